/**
 * Cluster-wide metrics on real PostgreSQL + Redis: two instances sharing one database and
 * one key prefix take concurrent traffic, and either one reports the exact fleet totals; a
 * third instance, a separate process, is killed with SIGKILL and its figures stay in the
 * totals; per-minute buckets and totals survive a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TMetricsSummary } from "@switchboard/schema";
import { startApiProcess, type ApiProcess } from "../../../test/api-process.ts";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../../test/app.ts";
import { eventually } from "../../../test/chat.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { bearer } from "../../../test/http.ts";
import { scrapedSum } from "../../../test/prometheus-parser.ts";
import { deleteKeysWithPrefix, startTcpProxy, testRedisUrl, uniquePrefix } from "../../../test/redis.ts";

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

const JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";
const REQUESTS_PER_INSTANCE = 40;
const STREAMS_PER_INSTANCE = 6;
const BETA_FAILURES = 7;

let db: TestDatabase;
let beta: FakeOpenAIServer;
const prefix = uniquePrefix("metrics-cluster");
let a: TestApp;
let b: TestApp;
let token: string;

const env = (upstream: FakeOpenAIServer) => ({
  BETA_MODEL_BASE_URL: upstream.url,
  PROVIDER_ORDER: "beta,template",
  CHAT_RATE_LIMIT_PER_MIN: "10000",
  CIRCUIT_FAILURE_THRESHOLD: "10000",
  METRICS_FLUSH_INTERVAL_MS: "200",
  METRICS_DB_FLUSH_INTERVAL_MS: "200",
});

beforeAll(async () => {
  db = await createTestDatabase();
  beta = await startFakeOpenAI({ name: "beta", defaultBehavior: { kind: "ok", content: "fleet answer" } });
  // One at a time: the first one migrates the shared database.
  a = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, env: env(beta) });
  b = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, env: env(beta) });
  token = await a.login();
}, 240_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await beta?.close();
  await db?.drop();
  await deleteKeysWithPrefix(prefix);
});

/** Runs `jobs` with at most `width` in flight. */
async function pool(jobs: Array<() => Promise<unknown>>, width: number): Promise<void> {
  const queue = [...jobs];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  }));
}

async function streamV1(url: string): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...bearer(token) },
    body: JSON.stringify({ model: "auto", stream: true, messages: [{ role: "user", content: "stream" }] }),
  });
  expect(await res.text()).toContain("[DONE]");
}

const instanceRow = (s: TMetricsSummary, id: string) => s.instances.find((i) => i.id === id);

describe("cluster metrics", () => {
  it("are exact under concurrent load spread over two instances", async () => {
    // Which request meets a failure depends on timing; how many do is fixed.
    beta.enqueue(...Array.from({ length: BETA_FAILURES }, () => ({ kind: "status" as const, status: 503 })));
    const jobs: Array<() => Promise<unknown>> = [];
    for (const t of [a, b]) {
      for (let i = 0; i < REQUESTS_PER_INSTANCE; i++) jobs.push(() => t.client(token).chat.send.mutate({ message: `q${i}` }));
      for (let i = 0; i < STREAMS_PER_INSTANCE; i++) jobs.push(() => streamV1(t.url));
    }
    jobs.sort(() => Math.random() - 0.5);
    await pool(jobs, 16);

    const total = 2 * (REQUESTS_PER_INSTANCE + STREAMS_PER_INSTANCE);
    for (const t of [a, b]) {
      const summary = () => t.client(token).metrics.summary.query();
      // A request is counted when its response closes, which can be just after the client read
      // it, and the summary waits only briefly for the other instance's flush: poll until every
      // call and request is in, then check every figure exactly.
      const counts = (s: TMetricsSummary) => ({ calls: s.ai["beta"]?.calls, requests: s.requests.total });
      await expect.poll(async () => counts(await summary())).toEqual({ calls: total, requests: total });
      const s = await summary();
      expect(s.ai["beta"]).toMatchObject({ calls: total, successes: total - BETA_FAILURES, failures: BETA_FAILURES, fallbacksFrom: BETA_FAILURES });
      expect(s.ai["template"]).toMatchObject({ calls: BETA_FAILURES, successes: BETA_FAILURES });
      expect(s.ai["beta"]!.successRate).toBe(Math.round(((total - BETA_FAILURES) / total) * 10_000) / 100);
      expect(s.requests).toEqual({ total, errors: 0 });
      expect(s.liveInstances).toBe(2);
      expect(s.activeStreams).toBe(0);
      for (const other of [a, b]) {
        expect(instanceRow(s, other.app.deps.instanceId)).toMatchObject({ live: true, requests: REQUESTS_PER_INSTANCE + STREAMS_PER_INSTANCE });
      }
    }

    // Prometheus is per instance: scraping both and summing gives the same totals.
    let scraped = 0;
    for (const t of [a, b]) scraped += await scrapedSum(t.url, "switchboard_provider_calls_total", { provider: "beta" });
    expect(scraped).toBe(total);
  });

  it("keep a killed instance's figures in the totals; it drops out of the live instances", async () => {
    let c: ApiProcess | undefined;
    try {
      c = await startApiProcess({
        databaseUrl: db.url,
        redisUrl: testRedisUrl(),
        redisKeyPrefix: prefix,
        env: { ...env(beta), JWT_SECRET, SUPERADMIN_EMAIL: TEST_SUPERADMIN.email, SUPERADMIN_PASSWORD: TEST_SUPERADMIN.password },
      });
      const before = await a.client(token).metrics.summary.query();
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${c.url}/trpc/chat.send`, {
          method: "POST",
          headers: { "content-type": "application/json", ...bearer(token) },
          body: JSON.stringify({ message: `to the doomed instance ${i}` }),
        });
        expect(res.status).toBe(200);
      }
      // The summary asks every live instance to flush but waits for c, another process, only
      // briefly, and c counts a request when its response closes: poll until c's five calls and
      // requests are in, so the figures it leaves behind are complete.
      const summary = () => a.client(token).metrics.summary.query();
      const grown = (s: TMetricsSummary) => ({ calls: s.ai["beta"]!.calls - before.ai["beta"]!.calls, requests: s.requests.total - before.requests.total });
      await expect.poll(async () => grown(await summary())).toEqual({ calls: 5, requests: 5 });
      const withC = await summary();
      expect(withC.ai["beta"]!.calls - before.ai["beta"]!.calls).toBe(5);
      expect(withC.liveInstances).toBe(3);
      const cId = withC.instances.find((i) => i.pid === c!.pid)!.id;

      process.kill(c.pid, "SIGKILL");
      const after = await eventually(async () => {
        const s = await a.client(token).metrics.summary.query();
        return s.liveInstances === 2 ? s : undefined;
      }, "the killed instance to drop out of the live instances", 20_000);
      expect(after.ai["beta"]!.calls).toBe(withC.ai["beta"]!.calls);
      expect(after.requests.total).toBe(withC.requests.total);
      expect(instanceRow(after, cId)).toMatchObject({ live: false, requests: 5, calls: 5, activeStreams: 0 });
    } finally {
      await c?.stop();
    }
  });

  it("fall back to this instance's own figures while Redis is unreachable, and recover", async () => {
    const proxy = await startTcpProxy();
    const ownPrefix = uniquePrefix("metrics-outage");
    const lone = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: ownPrefix, env: { ...env(beta), REDIS_URL: proxy.url } });
    try {
      const admin = lone.client(await lone.login());
      await admin.chat.send.mutate({ message: "before the outage" });
      await proxy.cut();
      const during = await admin.metrics.summary.query();
      expect(during.partial).toBe(true);
      expect(during.ai["beta"]!.calls).toBe(1);
      expect(during.instances).toEqual([expect.objectContaining({ id: lone.app.deps.instanceId, live: true })]);
      await proxy.restore();
      const after = await eventually(async () => {
        const s = await admin.metrics.summary.query();
        return s.partial ? undefined : s;
      }, "metrics to read the cluster again", 20_000);
      expect(after.ai["beta"]!.calls).toBe(1);
    } finally {
      await lone.close();
      await proxy.close();
      await deleteKeysWithPrefix(ownPrefix);
    }
  });

  it("survive a restart: per-minute buckets in PostgreSQL, totals from the last snapshots", async () => {
    const ownDb = await createTestDatabase();
    const ownPrefix = uniquePrefix("metrics-restart");
    try {
      const first = await startTestApp({ databaseUrl: ownDb.url, redisKeyPrefix: ownPrefix, env: env(beta) });
      const firstToken = await first.login();
      for (let i = 0; i < 4; i++) await first.client(firstToken).chat.send.mutate({ message: `before restart ${i}` });
      await first.close(); // a graceful stop writes what is left

      const second = await startTestApp({ databaseUrl: ownDb.url, redisKeyPrefix: ownPrefix, env: env(beta) });
      try {
        const admin = second.client(await second.login());
        const series = await admin.metrics.timeseries.query({ from: new Date(Date.now() - 10 * 60_000).toISOString() });
        expect(series.buckets.reduce((n, p) => n + (p.providers["beta"]?.calls ?? 0), 0)).toBe(4);
        expect(series.buckets.reduce((n, p) => n + p.requests, 0)).toBe(4);
        const s = await admin.metrics.summary.query();
        expect(s.ai["beta"]!.calls).toBe(4);
        expect(s.requests.total).toBe(4);
      } finally {
        await second.close();
      }
    } finally {
      await ownDb.drop();
      await deleteKeysWithPrefix(ownPrefix);
    }
  });
});
