/**
 * metrics.* and GET /metrics end to end: a real Switchboard (PostgreSQL + Redis) whose
 * providers are local OpenAI-protocol servers; traffic goes through real HTTP and the
 * figures are read back through the API. Nothing is mocked.
 */
import { performance } from "node:perf_hooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TMetricsSummary } from "@switchboard/schema";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../test/app.ts";
import { collectStream } from "../../test/chat.ts";
import type { FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { parsePrometheusText, samplesNamed } from "../../test/prometheus-parser.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";

const UPSTREAM_DELAY_MS = 300;
const DEEPSEEK_KEY = "sk-deepseek-secret-4f1c";

let t: TestApp;
let upstreams: Upstreams<"beta" | "deepseek">;
let beta: FakeOpenAIServer;
let deepseek: FakeOpenAIServer;
let admin: string;
let user: { id: string; email: string; token: string };

beforeAll(async () => {
  upstreams = await startUpstreams(["beta", "deepseek"], { apiKey: DEEPSEEK_KEY });
  ({ beta, deepseek } = upstreams.fakes);
  t = await startTestApp({
    env: {
      ...upstreams.env,
      CHAT_RATE_LIMIT_PER_MIN: "1000",
      CONSENSUS_RATE_LIMIT_PER_MIN: "1000",
      CIRCUIT_FAILURE_THRESHOLD: "1000",
    },
  });
  admin = await t.login();
  user = await t.userWithRole("USER");
});
afterAll(async () => {
  await t?.close();
  await upstreams?.close();
});
afterEach(() => {
  for (const fake of [beta, deepseek]) fake.setDefault({ kind: "ok" });
});

const summary = () => t.client(admin).metrics.summary.query();
const send = (message: string, provider?: "beta" | "deepseek") => t.client(user.token).chat.send.mutate({ message, ...(provider ? { provider } : {}) });

/** The difference of two summaries for one provider's counters. */
function delta(before: TMetricsSummary, after: TMetricsSummary, provider: string) {
  const b = before.ai[provider]!;
  const a = after.ai[provider]!;
  const keys = ["calls", "successes", "failures", "aborted", "promptTokens", "completionTokens", "fallbacksFrom"] as const;
  return Object.fromEntries(keys.map((k) => [k, a[k] - b[k]]));
}

describe("metrics.summary", () => {
  it("reports exact per-provider figures, fallbacks and latency percentiles after real traffic", async () => {
    const before = await summary();
    beta.enqueue({ kind: "status", status: 500 });
    const fellBack = await send("first one fails on beta");
    expect(fellBack.provider).toBe("deepseek");
    await send("an ordinary question");
    await send("another one");
    deepseek.setDefault({ kind: "ok", content: "streamed answer from deepseek" });
    const events = await collectStream(t.client(user.token), { message: "stream please", provider: "deepseek" });
    expect(events.at(-1)?.type).toBe("chat_complete");
    // The stream is counted when its response closes, which can be just after the client read
    // its last event (a request is counted after its calls): wait until all four are in.
    await expect.poll(async () => (await summary()).requests.total - before.requests.total).toBe(4);
    const after = await summary();

    expect(delta(before, after, "beta")).toMatchObject({ calls: 3, successes: 2, failures: 1, aborted: 0, fallbacksFrom: 1 });
    expect(delta(before, after, "deepseek")).toMatchObject({ calls: 2, successes: 2, failures: 0, fallbacksFrom: 0 });
    expect(after.requests.total - before.requests.total).toBe(4);
    expect(after.requestsPerMinute).toBeGreaterThanOrEqual(4);

    const b = after.ai["beta"]!;
    expect(b.successRate).toBe(Math.round((b.successes / (b.successes + b.failures)) * 10_000) / 100);
    expect(b.outcomes["http_error"]).toBeGreaterThanOrEqual(1);
    expect(b.promptTokens).toBeGreaterThan(0);
    expect(b.avgTime).toBeCloseTo(b.totalTime / b.calls, 2);
    expect(b.p50).toBeGreaterThan(0);
    expect(b.p50).toBeLessThanOrEqual(b.p95);
    expect(b.p95).toBeLessThanOrEqual(b.p99);
    expect(after.ai["deepseek"]!.ttftP50).toBeGreaterThan(0);
    expect(b.circuit).toBe("closed");
    expect(after.ai["template"]).toMatchObject({ active: true });
    expect(after.emergency.active).toBe(false);
    expect(after.liveInstances).toBe(1);
    expect(after.instances).toEqual([expect.objectContaining({ id: t.app.deps.instanceId, live: true })]);
    expect(after.overhead.p50).toBeGreaterThan(0);
    expect(after.partial).toBe(false);
    // The flat legacy keys carry the same figures.
    expect(after["ai.beta"]).toEqual(after.ai["beta"]);
    expect(after["ai.deepseek"]).toEqual(after.ai["deepseek"]);
  });

  it("counts gateway errors by code, including freezes and stream errors", async () => {
    const before = await summary();
    // Not configured: refused with 400 before any upstream call.
    await expect(t.client(user.token).chat.send.mutate({ message: "x", provider: "ollama" as never })).rejects.toThrow();
    await t.client(admin).emergency.freeze.mutate({ reason: "metrics test freeze", scope: "chat" });
    try {
      await expect(send("while frozen")).rejects.toThrow(/frozen|Emergency/i);
      const v1 = await fetch(`${t.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer(user.token) },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      });
      expect(v1.status).toBe(503);
    } finally {
      await t.client(admin).emergency.unfreeze.mutate({ reason: "done" });
    }
    // A stream that fails after its first token ends with an error event inside a 200.
    beta.enqueue({ kind: "cut", afterChunks: 1, content: "this will be cut" });
    const events = await collectStream(t.client(user.token), { message: "cut me", provider: "beta" });
    expect(events.at(-1)).toMatchObject({ type: "error", code: "STREAM_INTERRUPTED" });

    // The stream's error is counted when its response closes, which can be just after the
    // client read the error event: wait until all four errors are in.
    await expect.poll(async () => (await summary()).requests.errors - before.requests.errors).toBe(4);
    const after = await summary();
    const grew = (code: string) => (after.errorsByCode[code] ?? 0) - (before.errorsByCode[code] ?? 0);
    expect(grew("BAD_REQUEST")).toBe(1);
    expect(grew("EMERGENCY_STOP")).toBe(2);
    expect(grew("STREAM_INTERRUPTED")).toBe(1);
    expect(after.requests.errors - before.requests.errors).toBe(4);
  });

  it("refuses callers below ADMIN", async () => {
    for (const [path, input] of [["metrics.summary", undefined], ["metrics.timeseries", {}]] as const) {
      expect((await trpcQuery(t.url, path, input, bearer(user.token))).status).toBe(403);
      expect((await trpcQuery(t.url, path, input)).status).toBe(401);
    }
    const sse = await fetch(`${t.url}/trpc/metrics.live`, { headers: { accept: "text/event-stream", ...bearer(user.token) } });
    const body = await sse.text();
    expect(body).toMatch(/FORBIDDEN/);
    expect(body).not.toMatch(/"ai"/);
  });
});

describe("metrics.timeseries", () => {
  it("returns per-minute buckets with this minute's traffic", async () => {
    await send("for the timeseries");
    const series = await t.client(admin).metrics.timeseries.query({ from: new Date(Date.now() - 10 * 60_000).toISOString() });
    expect(series.bucketSeconds).toBe(60);
    expect(series.buckets.length).toBeGreaterThanOrEqual(10);
    const last = series.buckets.at(-1)!;
    const lastTwo = series.buckets.slice(-2);
    expect(lastTwo.reduce((n, p) => n + p.calls, 0)).toBeGreaterThan(0);
    expect(lastTwo.reduce((n, p) => n + p.requests, 0)).toBeGreaterThan(0);
    expect(Date.parse(last.minute) % 60_000).toBe(0);
  });

  it("answers 400 for a range outside the kept 24 h window", async () => {
    const hour = 3_600_000;
    const refused = [
      { from: new Date(Date.now() - 25 * hour).toISOString() },
      { to: new Date(Date.now() + 2 * hour).toISOString() },
      { from: new Date(Date.now() - hour).toISOString(), to: new Date(Date.now() - 2 * hour).toISOString() },
      { from: "yesterday" },
    ];
    for (const input of refused) {
      const res = await trpcQuery(t.url, "metrics.timeseries", input, bearer(admin));
      expect(res.status, JSON.stringify(input)).toBe(400);
    }
    const ok = await trpcQuery(t.url, "metrics.timeseries", { from: Date.now() - 24 * hour + 60_000 }, bearer(admin));
    expect(ok.status).toBe(200);
    expect(ok.body.result.data.buckets.length).toBeGreaterThan(1_400);
  });
});

describe("metrics.live", () => {
  it("pushes the summary, then updates at most once per second", async () => {
    const pushes: TMetricsSummary[] = [];
    let calls = 0;
    const sub = t.client(admin).metrics.live.subscribe(undefined, { onData: (s) => void pushes.push(s as TMetricsSummary) });
    try {
      // Traffic until three pushes arrived: each one then carries new figures.
      const deadline = Date.now() + 30_000;
      while (pushes.length < 3 && Date.now() < deadline) await send(`live ${calls++}`);
    } finally {
      sub.unsubscribe();
    }
    expect(pushes.length).toBeGreaterThanOrEqual(3);
    const beta0 = pushes[0]!.ai["beta"]!.calls;
    expect(pushes.at(-1)!.ai["beta"]!.calls).toBeGreaterThan(beta0);
    // Spacing is enforced by the server; its own timestamps are not subject to delivery jitter.
    const stamps = pushes.map((p) => Date.parse(p.generatedAt));
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 1]!).toBeGreaterThanOrEqual(1_000);
  });
});

describe("x-switchboard-overhead-ms", () => {
  const overheadOf = (res: Response) => {
    const raw = res.headers.get("x-switchboard-overhead-ms");
    expect(raw, `header on ${res.url}`).not.toBeNull();
    const value = Number(raw);
    expect(Number.isFinite(value) && value >= 0).toBe(true);
    return value;
  };

  it("excludes upstream time on JSON answers (tRPC and /v1)", async () => {
    beta.setDefault({ kind: "slow", delayMs: UPSTREAM_DELAY_MS, content: "slow but sure" });
    const started = performance.now();
    const trpc = await fetch(`${t.url}/trpc/chat.send`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(user.token) },
      body: JSON.stringify({ message: "slow one" }),
    });
    const trpcElapsed = performance.now() - started;
    expect(trpc.status).toBe(200);
    // The server waited ≥ 300 ms for upstream; what it reports as its own time cannot include that.
    expect(overheadOf(trpc)).toBeLessThanOrEqual(trpcElapsed - UPSTREAM_DELAY_MS);

    const v1Start = performance.now();
    const v1 = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(user.token) },
      body: JSON.stringify({ model: "beta", messages: [{ role: "user", content: "hi" }] }),
    });
    const v1Elapsed = performance.now() - v1Start;
    expect(v1.status).toBe(200);
    expect(overheadOf(v1)).toBeLessThanOrEqual(v1Elapsed - UPSTREAM_DELAY_MS);
  });

  it("is set at response start on streams, as the time before the upstream call", async () => {
    beta.setDefault({ kind: "slow", delayMs: UPSTREAM_DELAY_MS, content: "slow stream" });
    const started = performance.now();
    const v1 = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(user.token) },
      body: JSON.stringify({ model: "beta", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    const toHeaders = performance.now() - started;
    expect(v1.headers.get("content-type")).toMatch(/text\/event-stream/);
    // /v1 streams send headers after the first token, which took ≥ 300 ms upstream.
    expect(overheadOf(v1)).toBeLessThanOrEqual(toHeaders - UPSTREAM_DELAY_MS);
    expect(await v1.text()).toContain("[DONE]");

    const sse = await fetch(`${t.url}/trpc/chat.stream?input=${encodeURIComponent(JSON.stringify({ message: "hi" }))}`, {
      headers: { accept: "text/event-stream", ...bearer(user.token) },
    });
    expect(sse.headers.get("content-type")).toMatch(/text\/event-stream/);
    overheadOf(sse);
    expect(await sse.text()).toContain("chat_complete");
  });

  it("is on every gateway response, errors and consensus included, and not on others", async () => {
    deepseek.setDefault({ kind: "slow", delayMs: UPSTREAM_DELAY_MS, content: "Paris" });
    beta.setDefault({ kind: "slow", delayMs: UPSTREAM_DELAY_MS, content: "Paris" });
    const started = performance.now();
    const consensus = await trpcMutation(t.url, "consensus.query", { prompt: "Capital of France?", strategy: "majority" }, bearer(user.token));
    const elapsed = performance.now() - started;
    expect(consensus.status).toBe(200);
    const value = Number(consensus.headers.get("x-switchboard-overhead-ms"));
    // Two parallel 300 ms calls: counted once, so Switchboard's own time (the stored run) remains.
    expect(value).toBeGreaterThan(0);
    expect(value).toBeLessThanOrEqual(elapsed - UPSTREAM_DELAY_MS);

    const refused = await trpcMutation(t.url, "chat.send", { message: "" }, bearer(user.token));
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-switchboard-overhead-ms")).not.toBeNull();
    const unauthenticated = await fetch(`${t.url}/v1/models`);
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("x-switchboard-overhead-ms")).not.toBeNull();

    expect((await fetch(`${t.url}/health`)).headers.get("x-switchboard-overhead-ms")).toBeNull();
    expect((await trpcQuery(t.url, "auth.me", undefined, bearer(user.token))).headers.get("x-switchboard-overhead-ms")).toBeNull();
  });
});

describe("GET /metrics", () => {
  it("parses with the Prometheus parser and agrees with the summary", async () => {
    await send("one for prometheus");
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(await res.text());

    const names = families.map((f) => f.name);
    for (const f of families) expect(f.name, f.name).toMatch(/^switchboard_[a-z0-9_]+$/);
    expect(names).toEqual(expect.arrayContaining([
      "switchboard_provider_calls",
      "switchboard_provider_call_duration_seconds",
      "switchboard_provider_ttft_seconds",
      "switchboard_provider_tokens",
      "switchboard_provider_fallbacks",
      "switchboard_provider_circuit_state",
      "switchboard_http_requests",
      "switchboard_gateway_requests",
      "switchboard_gateway_overhead_seconds",
      "switchboard_gateway_active_streams",
      "switchboard_trpc_calls",
      "switchboard_emergency_active",
      // process metrics
      "switchboard_process_cpu_seconds",
      "switchboard_process_resident_memory_bytes",
      "switchboard_nodejs_eventloop_lag_seconds",
    ]));
    expect(families.find((f) => f.name === "switchboard_provider_call_duration_seconds")!.type).toBe("histogram");

    // This instance only sees its own calls, so Prometheus and the summary must agree exactly.
    const s = await summary();
    const calls = samplesNamed(families, "switchboard_provider_calls_total").filter((x) => x.labels["provider"] === "beta");
    expect(calls.reduce((n, x) => n + Number(x.value), 0)).toBe(s.ai["beta"]!.calls);
    const successes = calls.filter((x) => x.labels["outcome"] === "success").reduce((n, x) => n + Number(x.value), 0);
    expect(successes).toBe(s.ai["beta"]!.successes);
    const betaCount = samplesNamed(families, "switchboard_provider_call_duration_seconds_count").filter((x) => x.labels["provider"] === "beta");
    expect(betaCount.reduce((n, x) => n + Number(x.value), 0)).toBe(s.ai["beta"]!.calls);
    const inf = samplesNamed(families, "switchboard_provider_call_duration_seconds_bucket").filter((x) => x.labels["le"] === "+Inf");
    expect(inf.length).toBeGreaterThan(0);
    expect(samplesNamed(families, "switchboard_provider_circuit_state").filter((x) => x.labels["provider"] === "beta" && x.value === 1)).toEqual([
      expect.objectContaining({ labels: { provider: "beta", state: "closed" } }),
    ]);
  });

  it("exposes no user data or secrets", async () => {
    const marker = `private-message-${Date.now()}`;
    const reply = await send(marker);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    for (const secret of [
      marker,
      reply.conversationId,
      user.id,
      user.email,
      user.token,
      admin,
      TEST_SUPERADMIN.email,
      TEST_SUPERADMIN.password,
      t.app.deps.env.JWT_SECRET!,
      DEEPSEEK_KEY,
      new URL(beta.url).host,
      new URL(deepseek.url).host,
      t.app.deps.env.DATABASE_URL!,
    ]) {
      expect(text.includes(secret), `leaked ${secret}`).toBe(false);
    }
    // Every label value is from a closed set: no ids, emails or URLs.
    for (const f of parsePrometheusText(text)) {
      for (const sample of f.samples) {
        for (const [label, value] of Object.entries(sample.labels)) {
          expect(`${label}=${value}`).not.toMatch(/@|[0-9a-f]{8}-[0-9a-f]{4}-|https?:\/\//);
        }
      }
    }
  });
});
