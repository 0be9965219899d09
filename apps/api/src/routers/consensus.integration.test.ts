/**
 * consensus.* end to end: the typed client over real HTTP to a real Switchboard (PostgreSQL +
 * Redis) whose four upstream providers are local servers speaking the OpenAI protocol, plus
 * the offline template as the fifth. Nothing is mocked.
 */
import { performance } from "node:perf_hooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TConsensusStreamEvent } from "@switchboard/schema";
import { errorCodeOf, type SwitchboardClient } from "@switchboard/client";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { collectConsensus, delimitedAnswers, gate, promptOf, systemOf } from "../../test/consensus.ts";
import type { FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";
import { templateReply } from "../providers/template-replies.ts";

let t: TestApp;
let upstreams: Upstreams<"beta" | "deepseek" | "openai" | "ollama">;
let beta: FakeOpenAIServer;
let deepseek: FakeOpenAIServer;
let openai: FakeOpenAIServer;
let ollama: FakeOpenAIServer;
let user: { id: string; token: string };
let sb: SwitchboardClient;

beforeAll(async () => {
  upstreams = await startUpstreams(["beta", "deepseek", "openai", "ollama"]);
  ({ beta, deepseek, openai, ollama } = upstreams.fakes);
  t = await startTestApp({
    env: {
      ...upstreams.env,
      // Fault tests fail providers on purpose; keep circuits out of the way (chat tests cover them).
      CIRCUIT_FAILURE_THRESHOLD: "1000",
      CONSENSUS_RATE_LIMIT_PER_MIN: "1000",
      PROVIDER_TIMEOUT_MS: "5000",
    },
  });
  user = await t.userWithRole("USER");
  sb = t.client(user.token);
});
afterAll(async () => {
  await t?.close();
  await upstreams?.close();
});
afterEach(() => upstreams.reset());

const answerWith = (fake: FakeOpenAIServer, content: string) => fake.setDefault({ kind: "ok", content });
const isAggregatorCall = (body: Parameters<typeof systemOf>[0]) => systemOf(body).includes("synthesize these responses");

describe("consensus.query", () => {
  it("five providers, three agree: majority returns their answer with agreement 0.6, and the run is stored", async () => {
    answerWith(beta, "Paris");
    answerWith(deepseek, "paris.");
    answerWith(openai, "Lyon");
    answerWith(ollama, "The answer is **PARIS**");
    const prompt = "What is the capital of France?";
    const result = await sb.consensus.query.query({ prompt, strategy: "majority", providers: ["beta", "deepseek", "openai", "ollama", "template"] });

    expect(result.winner).toEqual({ content: "Paris", providers: ["beta", "deepseek", "ollama"] });
    expect(result.agreement).toBe(0.6);
    expect(result).toMatchObject({ strategy: "majority", decidedBy: "majority", status: "complete", quorum: 3, excluded: [], aggregator: null });
    expect(result.answers.map((a) => [a.provider, a.status, a.content])).toEqual([
      ["beta", "success", "Paris"],
      ["deepseek", "success", "paris."],
      ["openai", "success", "Lyon"],
      ["ollama", "success", "The answer is **PARIS**"],
      ["template", "success", templateReply(prompt)],
    ]);
    expect(result.answers[0]).toMatchObject({ model: "beta", usage: { promptTokens: 7, completionTokens: 1, totalTokens: 8 } });
    for (const fake of [beta, deepseek, openai, ollama]) {
      expect(fake.requests.map((r) => r.body.messages)).toEqual([[{ role: "user", content: prompt }]]);
    }

    expect(await sb.consensus.get.query({ id: result.id })).toEqual(result);
    const history = await sb.consensus.history.query();
    expect(history.items[0]).toMatchObject({
      id: result.id, prompt, strategy: "majority", status: "complete", agreement: 0.6, winner: "Paris",
      winnerProviders: ["beta", "deepseek", "ollama"], providers: ["beta", "deepseek", "openai", "ollama", "template"],
    });
  });

  it("defaults to every active provider except the template; a tie goes to the earliest provider asked", async () => {
    answerWith(beta, "red");
    answerWith(deepseek, "Blue");
    answerWith(openai, "blue");
    answerWith(ollama, "Red.");
    const result = await sb.consensus.query.query({ prompt: "Pick a colour", strategy: "majority" });
    expect(result.answers.map((a) => a.provider)).toEqual(["beta", "deepseek", "openai", "ollama"]);
    expect(result.winner).toEqual({ content: "red", providers: ["beta", "ollama"] });
    expect(result.agreement).toBe(0.5);
  });

  it("a provider slower than the timeout is reported timed out while the result returns on time", async () => {
    answerWith(beta, "42");
    answerWith(deepseek, "forty-two");
    openai.setDefault({ kind: "slow", delayMs: 10_000, content: "42" });
    const t0 = performance.now();
    const result = await sb.consensus.query.query({ prompt: "6 x 7?", strategy: "majority", providers: ["beta", "deepseek", "openai"], timeoutMs: 500 });
    const elapsed = performance.now() - t0;

    expect(result.answers.find((a) => a.provider === "openai")).toMatchObject({ status: "timeout", content: null, usage: null, error: "no answer within 500 ms" });
    expect(result.winner).toEqual({ content: "42", providers: ["beta", "deepseek"] });
    expect(result.agreement).toBe(1);
    // It waited for the slow provider up to the deadline, not for its 10 s answer.
    expect(result.latencyMs).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5_000);
    await openai.waitForAbort(0);
  });

  it("a pair with one provider down still answers: the default quorum is half the providers asked", async () => {
    answerWith(beta, "42");
    openai.setDefault({ kind: "status", status: 503 });
    const result = await sb.consensus.query.query({ prompt: "6 x 7?", strategy: "majority", providers: ["beta", "openai"] });
    expect(result.quorum).toBe(1);
    expect(result.answers.map((a) => [a.provider, a.status])).toEqual([["beta", "success"], ["openai", "http_error"]]);
    expect(result.winner).toEqual({ content: "42", providers: ["beta"] });
  });

  it("below quorum: a clear error naming who failed, and the failed run is kept", async () => {
    answerWith(beta, "42");
    deepseek.setDefault({ kind: "status", status: 500 });
    openai.setDefault({ kind: "malformed" });
    const input = { prompt: "6 x 7?", strategy: "majority", providers: ["beta", "deepseek", "openai"], quorum: 2 };
    const res = await trpcMutation(t.url, "consensus.query", input, bearer(user.token));

    expect(res.status).toBe(502);
    expect(res.body.error.message).toMatch(/^Quorum not met: 1 of 3 providers answered, 2 needed\. Failed: deepseek \(http_error: .+\); openai \(malformed: .+\)$/);
    expect(res.body.error.data).toMatchObject({
      appCode: "UPSTREAM_ERROR",
      reason: "QUORUM_NOT_MET",
      quorum: 2,
      answered: 1,
      failed: [{ provider: "deepseek", status: "http_error" }, { provider: "openai", status: "malformed" }],
    });
    const stored = await sb.consensus.get.query({ id: res.body.error.data.runId });
    expect(stored).toMatchObject({ status: "failed", winner: null, agreement: null, decidedBy: null });
    expect(stored.answers.map((a) => [a.provider, a.status])).toEqual([["beta", "success"], ["deepseek", "http_error"], ["openai", "malformed"]]);
  });

  it("medoid picks the answer closest to the others; agreement is their mean pairwise similarity", async () => {
    answerWith(beta, "Water boils at 100 degrees Celsius at sea level.");
    answerWith(deepseek, "At sea level, water boils at 100 degrees Celsius.");
    answerWith(openai, "Bananas are rich in potassium.");
    const result = await sb.consensus.query.query({ prompt: "When does water boil?", strategy: "medoid", providers: ["beta", "deepseek", "openai"] });
    expect(result.winner).toEqual({ content: "Water boils at 100 degrees Celsius at sea level.", providers: ["beta"] });
    expect(result.decidedBy).toBe("medoid");
    expect(result.agreement).toBeGreaterThan(0.2);
    expect(result.agreement).toBeLessThan(0.6);
  });

  it("synthesize: the aggregator reads every answer (Mixture-of-Agents) and writes the winner", async () => {
    answerWith(beta, "Paris is the capital.");
    answerWith(deepseek, "The capital of France is Paris.");
    openai.setDefault(({ body }) => ({ kind: "ok", content: isAggregatorCall(body) ? "Paris is the capital of France." : "Paris" }));
    const prompt = "What is the capital of France?";
    const result = await sb.consensus.query.query({ prompt, strategy: "synthesize", providers: ["beta", "deepseek", "openai"], aggregator: "openai" });

    expect(result).toMatchObject({ decidedBy: "synthesize", fallbackReason: null });
    expect(result.winner).toEqual({ content: "Paris is the capital of France.", providers: ["beta", "deepseek", "openai"] });
    expect(result.aggregator).toMatchObject({ provider: "openai", status: "success", content: "Paris is the capital of France." });
    const call = openai.requests.find((r) => isAggregatorCall(r.body))!;
    expect(promptOf(call.body)).toBe(prompt);
    expect(delimitedAnswers(systemOf(call.body)).answers).toEqual(["Paris is the capital.", "The capital of France is Paris.", "Paris"]);
    expect(await sb.consensus.get.query({ id: result.id })).toEqual(result);
  });

  it("synthesize falls back to the medoid when the aggregator fails, and says why", async () => {
    answerWith(beta, "Paris");
    answerWith(deepseek, "Paris");
    openai.setDefault(({ body }) => (isAggregatorCall(body) ? { kind: "status", status: 500 } : { kind: "ok", content: "Lyon" }));
    const result = await sb.consensus.query.query({ prompt: "Capital of France?", strategy: "synthesize", providers: ["beta", "deepseek", "openai"], aggregator: "openai" });

    expect(result.decidedBy).toBe("medoid");
    expect(result.fallbackReason).toMatch(/^aggregator openai failed \(http_error: .+\); fell back to medoid$/);
    expect(result.aggregator).toMatchObject({ provider: "openai", status: "http_error", content: null });
    expect(result.winner).toEqual({ content: "Paris", providers: ["beta", "deepseek"] });
    expect(result.agreement).toBeCloseTo(1 / 3, 10);
    expect(await sb.consensus.get.query({ id: result.id })).toEqual(result);
  });

  it("synthesize without a named aggregator asks the first provider that answered", async () => {
    beta.setDefault({ kind: "status", status: 503 });
    deepseek.setDefault(({ body }) => ({ kind: "ok", content: isAggregatorCall(body) ? "merged" : "Paris" }));
    answerWith(openai, "Paris");
    const result = await sb.consensus.query.query({ prompt: "Capital?", strategy: "synthesize", providers: ["beta", "deepseek", "openai"] });
    expect(result.aggregator).toMatchObject({ provider: "deepseek", status: "success" });
    expect(result.winner).toEqual({ content: "merged", providers: ["deepseek", "openai"] });
    expect(beta.requests).toHaveLength(1);
  });

  it("consensus.models lists every provider, what is asked by default, and the defaults", async () => {
    const models = await sb.consensus.models.query();
    expect(models.models.map((m) => [m.provider, m.active, m.byDefault, m.frozen])).toEqual([
      ["beta", true, true, false],
      ["deepseek", true, true, false],
      ["openai", true, true, false],
      ["ollama", true, true, false],
      ["template", true, false, false],
    ]);
    expect(models.strategies).toEqual(["majority", "medoid", "synthesize"]);
    expect(models.defaults).toEqual({ providers: ["beta", "deepseek", "openai", "ollama"], timeoutMs: 30_000, aggregator: null });
  });
});

describe("consensus.stream", () => {
  it("sends each answer as it arrives, then the result", async () => {
    const held = gate();
    answerWith(beta, "4");
    deepseek.setDefault({ kind: "wait", until: held.until, content: "four" });
    answerWith(openai, "4.0");
    const events = await collectConsensus(sb, { prompt: "2+2?", strategy: "majority", providers: ["beta", "deepseek", "openai"] }, (_event, seen) => {
      // deepseek answers only once both others are in: arrival order is not the asked order.
      if (seen.filter((e) => e.type === "consensus_answer").length === 2) held.open();
    });

    expect(events.map((e) => e.type)).toEqual(["consensus_start", "consensus_answer", "consensus_answer", "consensus_answer", "consensus_complete"]);
    const [start, first, second, third, done] = events as [
      Extract<TConsensusStreamEvent, { type: "consensus_start" }>,
      ...Array<Extract<TConsensusStreamEvent, { type: "consensus_answer" }>>,
    ];
    expect(start).toMatchObject({ strategy: "majority", quorum: 2, timeoutMs: 30_000, excluded: [] });
    expect(start.providers).toEqual([{ provider: "beta", model: "beta" }, { provider: "deepseek", model: "deepseek-chat" }, { provider: "openai", model: "gpt-4o-mini" }]);
    expect(new Set([first!.answer.provider, second!.answer.provider])).toEqual(new Set(["beta", "openai"]));
    expect(third!.answer).toMatchObject({ provider: "deepseek", content: "four", status: "success" });
    const result = (done as unknown as Extract<TConsensusStreamEvent, { type: "consensus_complete" }>).result;
    expect(result).toMatchObject({ id: start.id, agreement: 1, winner: { content: "4", providers: ["beta", "deepseek", "openai"] } });
    // Answers in the result (and in storage) follow the asked order.
    expect(result.answers.map((a) => a.provider)).toEqual(["beta", "deepseek", "openai"]);
    expect(await sb.consensus.get.query({ id: start.id })).toEqual(result);
  });

  it("ends with an error event naming who failed when quorum is not met", async () => {
    beta.setDefault({ kind: "status", status: 500 });
    deepseek.setDefault({ kind: "status", status: 429 });
    const events = await collectConsensus(sb, { prompt: "2+2?", strategy: "medoid", providers: ["beta", "deepseek", "openai"] });
    const last = events.at(-1);
    expect(last).toMatchObject({ type: "error", code: "QUORUM_NOT_MET", message: expect.stringMatching(/^Quorum not met: 1 of 3 .*Failed: beta \(http_error.*deepseek \(rate_limited/) });
    expect(last?.type === "error" && last.answers?.map((a) => a.status)).toEqual(["http_error", "rate_limited", "success"]);
  });

  it("a consensus freeze ends an in-flight run with EMERGENCY_STOP, aborts its upstream calls, and keeps chat serving", async () => {
    const root = t.client(await t.login());
    for (const fake of [beta, deepseek]) fake.setDefault({ kind: "slow", delayMs: 10_000 });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const pending = collectConsensus(sb, { prompt: "about to be frozen", strategy: "majority", providers: ["beta", "deepseek"] }, (e) => {
      if (e.type === "consensus_start") started();
    });
    await running;
    await Promise.all([beta.waitForRequests(1), deepseek.waitForRequests(1)]);
    try {
      await root.emergency.freeze.mutate({ reason: "consensus drill", scope: "consensus" });
      const events = await pending;
      expect(events.at(-1)).toMatchObject({ type: "error", code: "EMERGENCY_STOP", message: expect.stringContaining("consensus drill"), retryAfterSec: 30 });
      await Promise.all([beta.waitForAbort(0), deepseek.waitForAbort(0)]);

      const refused = await sb.consensus.query.query({ prompt: "while frozen", strategy: "majority" }).catch((e: unknown) => e);
      expect(errorCodeOf(refused)).toBe("EMERGENCY_STOP");
      beta.setDefault({ kind: "ok" });
      expect((await sb.chat.send.mutate({ message: "chat is not frozen" })).provider).toBe("beta");
    } finally {
      await root.emergency.unfreeze.mutate({ reason: "drill over" });
    }
    const start = (await pending)[0]!;
    const stored = await sb.consensus.get.query({ id: start.type === "consensus_start" ? start.id : "" });
    expect(stored.status).toBe("aborted");
  });
});

describe("provider freezes", () => {
  it("a frozen provider is left out of the run, and named", async () => {
    const root = t.client(await t.login());
    await root.emergency.freeze.mutate({ reason: "openai misbehaves", scope: "provider:openai" });
    try {
      const result = await sb.consensus.query.query({ prompt: "Hello?", strategy: "majority" });
      expect(result.answers.map((a) => a.provider)).toEqual(["beta", "deepseek", "ollama"]);
      expect(result.excluded).toEqual([{ provider: "openai", reason: "frozen" }]);
      expect(openai.requests).toHaveLength(0);
      expect((await sb.consensus.get.query({ id: result.id })).excluded).toEqual([{ provider: "openai", reason: "frozen" }]);

      const res = await trpcMutation(t.url, "consensus.query", { prompt: "Hello?", strategy: "majority", providers: ["beta", "openai"] }, bearer(user.token));
      // It would be served but for the freeze: the freeze's 503, with when to retry.
      expect(res.status).toBe(503);
      expect(res.body.error.data).toMatchObject({ appCode: "EMERGENCY_STOP", reason: "openai misbehaves", frozenProviders: ["openai"] });
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(res.body.error.message).toBe("Consensus needs at least 2 available providers; available: beta; frozen by an emergency stop: openai");
    } finally {
      await root.emergency.unfreeze.mutate({ reason: "fixed" });
    }
  });
});

describe("consensus.query over the wire", () => {
  it("answers GET ?input= and POST alike (queries accept POST for long prompts)", async () => {
    const user = await t.userWithRole("USER");
    const input = { prompt: "6 x 7?", strategy: "majority", providers: ["beta", "deepseek"] };
    const viaGet = await trpcQuery(t.url, "consensus.query", input, bearer(user.token));
    const viaPost = await trpcMutation(t.url, "consensus.query", input, bearer(user.token));
    expect(viaGet.status).toBe(200);
    expect(viaPost.status).toBe(200);
    expect(viaGet.headers.get("cache-control")).toBe("no-store");
    expect(viaGet.body.result.data.winner.content).toBe(viaPost.body.result.data.winner.content);
  });
});
