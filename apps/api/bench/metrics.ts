/**
 * `npm run bench:metrics`: what metrics cost on the request path, and what Switchboard adds.
 *
 *   record     one upstream call + one gateway request + one HTTP request recorded, inside a
 *              request scope: everything telemetry does per request (no I/O), ns/request
 *   als        the AsyncLocalStorage tax: an await-heavy loop with and without an active
 *              request scope, each in its own process (ns per await)
 *   overhead   x-switchboard-overhead-ms of real requests to a real Switchboard (PostgreSQL +
 *              Redis) over a local upstream: /v1/chat/completions and chat.send, p50/p99
 *
 * Knobs: BENCH_RECORDS (default 200000), BENCH_REQUESTS (default 500).
 */
import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { Registry } from "prom-client";
import pino from "pino";
import type { PrismaClient } from "../src/generated/prisma/client.ts";
import { createMemoryCoordination } from "../src/infra/coordination/index.ts";
import { newScope, noteUpstreamCall } from "../src/infra/request-scope.ts";
import type { ProviderCallRecord } from "../src/services/gateway/chain-types.ts";
import { createMetricsService } from "../src/services/metrics/metrics-service.ts";
import { startTestApp } from "../test/app.ts";
import { startFakeOpenAI } from "../test/fake-openai-server.ts";

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500);
const PROVIDERS = ["beta", "deepseek", "openai", "ollama", "template"] as const;

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function benchRecord(): Promise<void> {
  const metrics = createMetricsService({
    coordination: await createMemoryCoordination(),
    // Never touched: flushes are not started in this bench.
    prisma: {} as PrismaClient,
    registry: new Registry(),
    identity: { id: "bench", host: hostname(), pid: process.pid, version: "bench", startedAt: new Date().toISOString() },
    log: pino({ level: "silent" }),
    circuits: () => ({}),
    activeProviders: () => [...PROVIDERS],
    emergency: () => ({ active: false, scope: "global", reason: null, activatedAt: null, activatedBy: null, expiresAt: null, version: 0 }),
  });
  const record = (i: number): ProviderCallRecord => ({
    provider: PROVIDERS[i % PROVIDERS.length]!,
    model: "m",
    mode: i % 2 ? "stream" : "complete",
    outcome: i % 10 === 0 ? "timeout" : "success",
    latencyMs: 20 + (i % 3000),
    ttftMs: i % 2 ? 10 + (i % 500) : undefined,
    promptTokens: 40,
    completionTokens: 120,
    fallback: false,
    status: undefined,
    error: undefined,
    at: Date.now(),
  });
  const one = (i: number) => {
    const r = record(i);
    metrics.recordCall(r, noteUpstreamCall(newScope(`r${i}`, true), r));
    metrics.recordRequest("openai", { durationMs: r.latencyMs + 2, overheadMs: 1.5, errorCode: undefined, clientClosed: false, at: r.at });
    metrics.recordHttp("POST", "/v1/chat/completions", 200, r.latencyMs + 2);
  };
  for (let i = 0; i < 20_000; i++) one(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < RECORDS; i++) one(i);
  const ns = ((performance.now() - t0) * 1e6) / RECORDS;
  const t1 = performance.now();
  const summary = await metrics.summary();
  const summaryMs = performance.now() - t1;
  console.log(`record    ${ns.toFixed(0)} ns per request (call + gateway request + HTTP, ${RECORDS} requests)`);
  console.log(`summary   ${summaryMs.toFixed(1)} ms to build (in-process coordination, ${JSON.stringify(summary).length} bytes of JSON)`);
}

function benchAls(): void {
  const loop = (withScope: boolean) => `
    const { AsyncLocalStorage } = require("node:async_hooks");
    const als = new AsyncLocalStorage();
    const N = 2_000_000;
    const work = async () => { for (let i = 0; i < N; i++) await null; };
    const run = async () => { await work(); const t0 = performance.now(); await work(); return performance.now() - t0; };
    (${withScope} ? als.run({}, run) : run()).then((ms) => console.log((ms * 1e6 / N).toFixed(1)));`;
  const time = (withScope: boolean) => Number(spawnSync(process.execPath, ["-e", loop(withScope)], { encoding: "utf8" }).stdout.trim());
  const off = time(false);
  const on = time(true);
  console.log(`als       ${off} ns per await without a scope, ${on} ns with one (+${(on - off).toFixed(1)} ns)`);
}

async function benchOverhead(): Promise<void> {
  const upstream = await startFakeOpenAI({ name: "beta", defaultBehavior: { kind: "ok", content: "benchmark answer" } });
  const t = await startTestApp({ env: { BETA_MODEL_BASE_URL: upstream.url, PROVIDER_ORDER: "beta,template", CHAT_RATE_LIMIT_PER_MIN: "1000000" } });
  try {
    const token = await t.login();
    const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
    const measure = async (name: string, url: string, body: unknown) => {
      const values: number[] = [];
      for (let i = 0; i < REQUESTS + 50; i++) {
        const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
        await res.text();
        if (i >= 50) values.push(Number(res.headers.get("x-switchboard-overhead-ms")));
      }
      values.sort((a, b) => a - b);
      console.log(`overhead  ${name.padEnd(22)} p50 ${quantile(values, 0.5).toFixed(2)} ms, p99 ${quantile(values, 0.99).toFixed(2)} ms (${REQUESTS} sequential requests)`);
    };
    await measure("/v1/chat/completions", `${t.url}/v1/chat/completions`, { model: "beta", messages: [{ role: "user", content: "hi" }] });
    await measure("chat.send", `${t.url}/trpc/chat.send`, { message: "hi" });
  } finally {
    await t.close();
    await upstream.close();
  }
}

console.log(`node ${process.version}, ${hostname()}`);
await benchRecord();
benchAls();
await benchOverhead();
