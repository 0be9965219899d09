/**
 * The fallback chain over real HTTP: real OpenAI-protocol providers against local servers that
 * speak the OpenAI protocol with faults. The clock of the breaker and 429 cooldowns is
 * injected, and only the provider meant to time out gets a short timeout (the others a
 * generous one), so no assertion depends on how fast this machine is.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closedPortUrl, startFakeOpenAI, type FakeBehavior, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { parseEnv } from "../../env.ts";
import { createProviderRegistry } from "./registry.ts";
import { ChainError, type ChainEvent, type ChainRequest, type ProviderCallRecord } from "./chain-types.ts";
import { createCircuitBreaker } from "./circuit-breaker.ts";
import { createProviderChain, type ProviderChain } from "./provider-chain.ts";

let beta: FakeOpenAIServer;
let openai: FakeOpenAIServer;

beforeAll(async () => {
  [beta, openai] = await Promise.all([startFakeOpenAI({ name: "beta" }), startFakeOpenAI({ name: "openai" })]);
});
afterAll(async () => Promise.all([beta.close(), openai.close()]));
afterEach(() => {
  for (const fake of [beta, openai]) {
    fake.requests.length = 0;
    fake.setDefault({ kind: "ok" });
  }
});

type StopHook = (id: string, abort: (reason: unknown) => void) => () => void;

/** The chain's timeout for every provider not meant to time out: never reached, however loaded the machine. */
const GENEROUS_TIMEOUT_MS = 60_000;

function setup(opts: { betaUrl?: string; timeoutMs?: number; betaTimeoutMs?: number; idleTimeoutMs?: number; frozen?: string[]; onProviderStop?: StopHook } = {}) {
  let clock = 1_000_000;
  const env = parseEnv({
    BETA_MODEL_BASE_URL: opts.betaUrl ?? beta.url,
    OPENAI_API_KEY: "sk-test",
    OPENAI_BASE_URL: openai.url,
    PROVIDER_ORDER: "beta,openai,template",
  });
  const now = () => clock;
  const registry = createProviderRegistry(env);
  if (opts.betaTimeoutMs !== undefined) {
    // Only beta gets the short timeout (a provider's own setting), so the fallback's answer never races it.
    const snap = registry.snapshot();
    const providers = snap.providers.map((p) => (p.name === "beta" ? { ...p, timeoutMs: opts.betaTimeoutMs! } : p));
    registry.apply({ ...snap, version: snap.version + 1, providers });
  }
  const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000, now });
  const chain = createProviderChain({
    registry,
    breaker,
    timeoutMs: opts.timeoutMs ?? GENEROUS_TIMEOUT_MS,
    idleTimeoutMs: opts.idleTimeoutMs ?? 2_000,
    now,
    isProviderFrozen: (id) => opts.frozen?.includes(id) ?? false,
    ...(opts.onProviderStop ? { onProviderStop: opts.onProviderStop } : {}),
  });
  const records: ProviderCallRecord[] = [];
  chain.onCall((r) => records.push(r));
  return { chain, breaker, records, advance: (ms: number) => void (clock += ms) };
}

const request = (extra: Partial<ChainRequest> = {}): ChainRequest => ({
  messages: [{ role: "user", content: "hello there" }],
  signal: new AbortController().signal,
  ...extra,
});

async function collect(chain: ProviderChain, req: ChainRequest = request()): Promise<{ events: ChainEvent[]; error?: ChainError }> {
  const events: ChainEvent[] = [];
  try {
    for await (const event of chain.stream(req)) events.push(event);
    return { events };
  } catch (error) {
    if (!(error instanceof ChainError)) throw error;
    return { events, error };
  }
}

const textOf = (events: ChainEvent[]) => events.map((e) => (e.type === "delta" ? e.text : "")).join("");

const PRE_TOKEN_FAULTS: Array<[string, FakeBehavior, string]> = [
  ["500", { kind: "status", status: 500 }, "http_error"],
  ["503", { kind: "status", status: 503 }, "http_error"],
  ["408", { kind: "status", status: 408 }, "http_error"],
  ["429 without Retry-After", { kind: "status", status: 429 }, "rate_limited"],
  ["malformed JSON", { kind: "malformed" }, "malformed"],
  ["connection cut before any token", { kind: "cut", afterChunks: 0 }, "connection_error"],
  ["slow beyond the timeout", { kind: "slow", delayMs: 5_000 }, "timeout"],
];

describe("non-stream fallback", () => {
  it.each(PRE_TOKEN_FAULTS)("moves on after %s", async (_label, fault, outcome) => {
    const { chain } = setup(outcome === "timeout" ? { betaTimeoutMs: 300 } : {});
    beta.enqueue(fault);
    const result = await chain.complete(request());
    expect(result.provider).toBe("openai");
    expect(result.content).toBe("Hello from openai.");
    expect(result.attempts.map((a) => [a.provider, a.outcome])).toEqual([
      ["beta", outcome],
      ["openai", "success"],
    ]);
    expect(result.usage).toEqual({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
  });

  it("moves on when the connection is refused", async () => {
    const { chain } = setup({ betaUrl: await closedPortUrl() });
    const result = await chain.complete(request());
    expect(result.attempts.map((a) => [a.provider, a.outcome])).toEqual([
      ["beta", "connection_error"],
      ["openai", "success"],
    ]);
  });

  it("ends with the offline template when every upstream fails", async () => {
    const { chain } = setup();
    beta.setDefault({ kind: "status", status: 500 });
    openai.setDefault({ kind: "status", status: 502 });
    const result = await chain.complete(request());
    expect(result.provider).toBe("template");
    expect(result.content).toContain("Offline fallback");
    expect(result.attempts.map((a) => a.outcome)).toEqual(["http_error", "http_error", "success"]);
  });

  it("rejects a reply the caller cannot accept and asks the next provider; the refused reply's tokens are booked", async () => {
    const { chain, records } = setup();
    beta.enqueue({ kind: "ok", content: "not json" });
    openai.enqueue({ kind: "ok", content: '{"questions":["Which one?"]}' });
    const result = await chain.complete(request({ accept: (c) => c.startsWith("{") }));
    expect(result.provider).toBe("openai");
    expect(result.attempts[0]).toMatchObject({ provider: "beta", outcome: "malformed" });
    // The upstream answered and bills it: what it reported is on the call's record.
    expect(records[0]).toMatchObject({ provider: "beta", outcome: "malformed", promptTokens: 7, completionTokens: 2 });
  });

  it("an empty reply moves on, and its prompt tokens are booked", async () => {
    const { chain, records } = setup();
    const empty = { id: "c", object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: null }], usage: { prompt_tokens: 9, completion_tokens: 0 } };
    beta.enqueue({ kind: "status", status: 200, body: JSON.stringify(empty) });
    expect((await chain.complete(request())).provider).toBe("openai");
    expect(records[0]).toMatchObject({ provider: "beta", outcome: "malformed", promptTokens: 9, completionTokens: 0 });
    // A failure with no answer (an HTTP error) reports no tokens: nothing to bill.
    beta.enqueue({ kind: "status", status: 500 });
    await chain.complete(request());
    expect(records.at(-2)).toMatchObject({ provider: "beta", outcome: "http_error", promptTokens: undefined, completionTokens: undefined });
  });

  it("replies the caller cannot accept are not held against the provider's circuit", async () => {
    const { chain, breaker } = setup();
    beta.setDefault({ kind: "ok", content: "prose, not json" });
    openai.setDefault({ kind: "ok", content: '{"questions":[]}' });
    for (let i = 0; i < 4; i++) expect((await chain.complete(request({ accept: (c) => c.startsWith("{") }))).provider).toBe("openai");
    expect(breaker.snapshot("beta").state).toBe("closed");
    expect((await chain.complete(request())).provider).toBe("beta");
  });
});

describe("stream fallback", () => {
  it.each(PRE_TOKEN_FAULTS)("moves on after %s before the first token", async (_label, fault, outcome) => {
    const { chain } = setup(outcome === "timeout" ? { betaTimeoutMs: 300 } : {});
    beta.enqueue(fault);
    const { events, error } = await collect(chain);
    expect(error).toBeUndefined();
    expect(events[0]).toEqual({ type: "start", provider: "openai", model: "gpt-4o-mini" });
    expect(textOf(events)).toBe("Hello from openai.");
    const done = events.at(-1);
    expect(done?.type).toBe("done");
    if (done?.type !== "done") return;
    expect(done.attempts.map((a) => [a.provider, a.outcome])).toEqual([
      ["beta", outcome],
      ["openai", "success"],
    ]);
    expect(done.usage).toEqual({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
  });

  it("treats a stream that stalls before the first token as a timeout and aborts it", async () => {
    const { chain } = setup({ betaTimeoutMs: 200 });
    beta.enqueue({ kind: "stall", afterChunks: 0 });
    const { events } = await collect(chain);
    expect(events[0]).toMatchObject({ type: "start", provider: "openai" });
    await beta.waitForAbort(0);
  });

  it("a cut after tokens were sent is an interruption: no fallback, partial text kept", async () => {
    const { chain, records } = setup();
    beta.enqueue({ kind: "cut", afterChunks: 2, content: "one two three four" });
    const { events, error } = await collect(chain);
    expect(textOf(events)).toBe("one two ");
    expect(error?.kind).toBe("interrupted");
    expect(error?.partial?.content).toBe("one two ");
    expect(error?.partial?.provider).toBe("beta");
    expect(error?.attempts.map((a) => a.outcome)).toEqual(["interrupted"]);
    expect(openai.requests).toHaveLength(0);
    expect(records.map((r) => r.outcome)).toEqual(["interrupted"]);
  });

  it("a stream that ends cleanly but without finishing is an interruption too", async () => {
    const { chain } = setup();
    beta.enqueue({ kind: "no-finish" });
    const { events, error } = await collect(chain);
    expect(textOf(events)).toBe("Hello from beta.");
    expect(error?.kind).toBe("interrupted");
  });

  it("a stall after the first token ends on the idle timeout and aborts the upstream", async () => {
    const { chain } = setup({ idleTimeoutMs: 150 });
    beta.enqueue({ kind: "stall", afterChunks: 1 });
    const { events, error } = await collect(chain);
    expect(textOf(events)).toBe("Hello ");
    expect(error?.kind).toBe("idle_timeout");
    expect(error?.attempts[0]).toMatchObject({ provider: "beta", outcome: "idle_timeout" });
    await beta.waitForAbort(0);
  });

  it("a consumer that stops reading aborts the upstream request", async () => {
    const { chain, records } = setup();
    beta.enqueue({ kind: "ok", content: "a b c d e f g h i j k l m n o p", chunkDelayMs: 30 });
    const iterator = chain.stream(request());
    expect((await iterator.next()).value).toMatchObject({ type: "start", provider: "beta" });
    await iterator.return(undefined);
    const aborted = await beta.waitForAbort(0);
    expect(aborted.completed).toBe(false);
    expect(records.map((r) => r.outcome)).toEqual(["aborted"]);
  });

  it("a caller abort before the first token stops the chain without trying others", async () => {
    const { chain } = setup();
    beta.enqueue({ kind: "slow", delayMs: 5_000 });
    const caller = new AbortController();
    const run = collect(chain, request({ signal: caller.signal }));
    await beta.waitForRequests(1);
    caller.abort(new Error("client left"));
    const { error } = await run;
    expect(error?.kind).toBe("aborted");
    expect((error?.abortReason as Error).message).toBe("client left");
    await beta.waitForAbort(0);
    expect(openai.requests).toHaveLength(0);
  });
});

describe("embeddings", () => {
  const embedRequest = { model: "text-embedding-3-small", body: { input: "hello" }, signal: new AbortController().signal };

  it("moves on after a failure, as chat does", async () => {
    const { chain } = setup();
    beta.enqueue({ kind: "status", status: 503 });
    const result = await chain.embed(embedRequest);
    expect(result.provider).toBe("openai");
    expect(result.attempts.map((a) => [a.provider, a.outcome])).toEqual([
      ["beta", "http_error"],
      ["openai", "success"],
    ]);
  });

  it("a provider's own timeout bounds its embeddings call too", async () => {
    const { chain } = setup({ betaTimeoutMs: 300 });
    beta.enqueue({ kind: "slow", delayMs: 5_000 });
    const result = await chain.embed(embedRequest);
    expect(result.provider).toBe("openai");
    expect(result.attempts[0]).toMatchObject({ provider: "beta", outcome: "timeout", error: "no answer within 300 ms" });
  });
});

describe("provider selection", () => {
  it("honours a 429's Retry-After: the provider is skipped until then", async () => {
    const { chain, advance } = setup();
    beta.enqueue({ kind: "status", status: 429, retryAfter: "2" });
    const first = await chain.complete(request());
    expect(first.attempts[0]).toMatchObject({ provider: "beta", outcome: "rate_limited", status: 429 });
    expect(chain.rateLimitedUntil("beta")).not.toBeNull();

    advance(1_999);
    const second = await chain.complete(request());
    expect(second.attempts[0]).toMatchObject({ provider: "beta", outcome: "skipped_rate_limited", latencyMs: 0 });
    expect(beta.requests).toHaveLength(1);

    advance(1);
    const third = await chain.complete(request());
    expect(third.provider).toBe("beta");
    expect(chain.rateLimitedUntil("beta")).toBeNull();
  });

  it("opens the circuit after 3 consecutive failures, probes after the cooldown, closes on success", async () => {
    const { chain, breaker, advance } = setup();
    beta.setDefault({ kind: "status", status: 500 });
    for (let i = 0; i < 3; i++) await chain.complete(request());
    expect(breaker.snapshot("beta").state).toBe("open");

    const skipped = await chain.complete(request());
    expect(skipped.attempts[0]).toMatchObject({ provider: "beta", outcome: "skipped_circuit_open" });
    expect(beta.requests).toHaveLength(3);

    advance(5_000);
    beta.setDefault({ kind: "ok" });
    const probe = await chain.complete(request());
    expect(probe.provider).toBe("beta");
    expect(breaker.snapshot("beta")).toEqual({ state: "closed", consecutiveFailures: 0, retryAt: null });
  });

  it("does not count request faults (400) or a 429 with Retry-After against the circuit", async () => {
    const { chain, breaker } = setup();
    beta.enqueue({ kind: "status", status: 400 }, { kind: "status", status: 400 }, { kind: "status", status: 400 });
    for (let i = 0; i < 3; i++) await chain.complete(request());
    expect(breaker.snapshot("beta").state).toBe("closed");
  });

  it("a pinned provider is the only one tried", async () => {
    const { chain } = setup();
    const ok = await chain.complete(request({ pinned: "openai" }));
    expect(ok.attempts.map((a) => a.provider)).toEqual(["openai"]);
    expect(beta.requests).toHaveLength(0);

    beta.enqueue({ kind: "status", status: 500 });
    const failed = await chain.complete(request({ pinned: "beta" })).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ChainError);
    expect((failed as ChainError).kind).toBe("exhausted");
    expect((failed as ChainError).attempts.map((a) => [a.provider, a.outcome])).toEqual([["beta", "http_error"]]);
    expect(openai.requests).toHaveLength(1);
  });

  it("a caller's shorter deadline is a timeout that is not held against the provider's circuit", async () => {
    const { chain, breaker, records } = setup({ timeoutMs: 5_000 });
    beta.setDefault({ kind: "slow", delayMs: 5_000 });
    for (let i = 0; i < 3; i++) {
      const failed = (await chain.complete(request({ pinned: "beta", timeoutMs: 50 })).catch((e: unknown) => e)) as ChainError;
      expect(failed.attempts).toEqual([expect.objectContaining({ provider: "beta", outcome: "timeout", error: "no answer within 50 ms" })]);
      await beta.waitForAbort(i);
    }
    expect(records.map((r) => r.outcome)).toEqual(["timeout", "timeout", "timeout"]);
    expect(breaker.snapshot("beta").state).toBe("closed");
  });

  it("skips a frozen provider without calling it", async () => {
    const { chain } = setup({ frozen: ["beta"] });
    const { events } = await collect(chain);
    const done = events.at(-1);
    expect(done?.type === "done" && done.attempts.map((a) => [a.provider, a.outcome])).toEqual([
      ["beta", "skipped_frozen"],
      ["openai", "success"],
    ]);
    expect(beta.requests).toHaveLength(0);
  });

  it("a provider freeze landing mid-call aborts that call (upstream sees the abort) and unsubscribes when calls end", async () => {
    const watching = new Map<string, (reason: unknown) => void>();
    const { chain } = setup({
      onProviderStop: (id, abort) => {
        watching.set(id, abort);
        return () => void watching.delete(id);
      },
    });
    beta.enqueue({ kind: "slow", delayMs: 5_000 });
    const pending = chain.complete(request());
    await beta.waitForRequests(1);
    watching.get("beta")!(new Error("EMERGENCY_STOP: provider:beta frozen"));
    const result = await pending;
    await beta.waitForAbort(0);
    expect(result.provider).toBe("openai");
    expect(result.attempts[0]).toMatchObject({ provider: "beta", outcome: "aborted", error: "provider frozen by an emergency stop" });
    expect(watching.size).toBe(0);
  });

  it("a stop covering the request ends it like a caller leaving, with the stop's reason: no fallback, unsubscribed after", async () => {
    const { chain } = setup();
    let stop: ((reason: unknown) => void) | undefined;
    const onStop = (abort: (reason: unknown) => void) => {
      stop = abort;
      return () => void (stop = undefined);
    };
    const reason = new Error("EMERGENCY_STOP: chat frozen");

    beta.enqueue({ kind: "slow", delayMs: 5_000 });
    const pending = chain.complete(request({ onStop })).catch((e: unknown) => e as ChainError);
    await beta.waitForRequests(1);
    stop!(reason);
    expect(await pending).toMatchObject({ kind: "aborted", abortReason: reason });
    await beta.waitForAbort(0);
    expect(openai.requests).toHaveLength(0);
    expect(stop).toBeUndefined();

    // Mid-stream, after the first token: the stream ends as aborted, not as an interruption.
    beta.enqueue({ kind: "stall", afterChunks: 2 });
    const events: ChainEvent[] = [];
    const streamed = (async () => {
      for await (const event of chain.stream(request({ onStop }))) {
        events.push(event);
        if (event.type === "delta") stop?.(reason);
      }
    })().catch((e: unknown) => e as ChainError);
    expect(await streamed).toMatchObject({ kind: "aborted", abortReason: reason });
    expect(textOf(events)).not.toBe("");
    expect(stop).toBeUndefined();

    // A stop that already landed: no call at all.
    const before = beta.requests.length;
    const already = chain.complete(request({ onStop: (abort) => (abort(reason), () => {}) })).catch((e: unknown) => e as ChainError);
    expect(await already).toMatchObject({ kind: "aborted", abortReason: reason });
    expect(beta.requests).toHaveLength(before);
  });

  it("passes model, temperature and max tokens through, and reports one call record per call", async () => {
    const { chain, records } = setup();
    beta.enqueue({ kind: "status", status: 500 });
    await chain.complete(request({ model: "custom-model", temperature: 0.3, maxTokens: 42 }));
    expect(openai.requests[0]?.body).toMatchObject({ model: "custom-model", temperature: 0.3, max_tokens: 42 });
    expect(records.map((r) => [r.provider, r.outcome, r.fallback])).toEqual([
      ["beta", "http_error", false],
      ["openai", "success", true],
    ]);
    expect(records[1]).toMatchObject({ model: "custom-model", promptTokens: 7, completionTokens: 3, mode: "complete" });
  });
});
