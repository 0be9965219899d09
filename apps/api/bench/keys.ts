/**
 * `npm run bench:keys`: what API keys, the request log and spend cost.
 *
 *   overhead   /v1/chat/completions (offline template provider) with an API key (rate limit
 *              and budget set, so both are checked) against the same build with a sign-in
 *              token: c=1 mean latency and c=32 requests/s, embedded and cluster. Both paths
 *              write the request log; the difference is the key's own work.
 *   log        request-log write throughput into PostgreSQL: rows offered at 2,000/s for
 *              BENCH_LOG_SECONDS, rows written/s and dropped; then the writer's ceiling
 *              (100,000 rows flushed as fast as it can).
 *   revoke     two cluster instances: time from sending keys.revoke to one instance until
 *              the other refuses the key (p50/p99 over BENCH_REVOKES runs).
 *   export     what a log export's size headers cost: the request log's bounded count (at
 *              most LOG_EXPORT.maxRows + 1 rows, as GET /api/logs/export.csv asks it) on
 *              BENCH_EXPORT_ROWS rows in PostgreSQL, for filters that stop early and filters
 *              that read the whole log, beside the first page and (unfiltered) the whole export's
 *              pages; median of 5.
 *
 * Knobs: BENCH_REQUESTS (c=32 total, default 3000), BENCH_SERIAL (c=1 total, default 400),
 * BENCH_LOG_SECONDS (default 5), BENCH_REVOKES (default 40), BENCH_EXPORT_ROWS (default
 * 200000), BENCH_PARTS (default overhead,log,revoke; add export).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { LOG_EXPORT } from "@switchboard/schema";
import { Registry } from "prom-client";
import { startApiProcess } from "../test/api-process.ts";
import { createTestDatabase } from "../test/database.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "../test/redis.ts";
import { openDatabase } from "../src/infra/database.ts";
import { createRequestLog, type LogFilters } from "../src/services/request-log/index.ts";
import { percentile, post, progress, runLoad, startBenchApi, superAdminAuth } from "./load.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const SERIAL = Number(process.env.BENCH_SERIAL ?? 400);
const LOG_SECONDS = Number(process.env.BENCH_LOG_SECONDS ?? 5);
const REVOKES = Number(process.env.BENCH_REVOKES ?? 40);
const EXPORT_ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? 200_000);
const PARTS = (process.env.BENCH_PARTS ?? "overhead,log,revoke").split(",");

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

async function trpc<T>(url: string, path: string, input: unknown, auth: Record<string, string>): Promise<T> {
  const res = await fetch(`${url}/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(input) });
  const body = (await res.json()) as { result?: { data: T }; error?: unknown };
  if (!body.result) throw new Error(`${path}: ${JSON.stringify(body.error)}`);
  return body.result.data;
}

async function benchOverhead(mode: "embedded" | "cluster"): Promise<Record<string, unknown>> {
  const api = await startBenchApi({ PROVIDER_ORDER: "template" }, { embedded: mode === "embedded" });
  try {
    const created = await trpc<{ key: string }>(api.url, "keys.create", { name: "bench", rateLimitPerMin: 1_000_000, budgetUsd: 1_000_000 }, api.auth);
    const body = { model: "auto", messages: [{ role: "user", content: "hello" }] };
    const url = `${api.url}/v1/chat/completions`;
    const calls = { token: post(url, body, api.auth), key: post(url, body, { authorization: `Bearer ${created.key}` }) };
    const out: Record<string, unknown> = { mode };
    // Warm both paths (JIT, caches, connections), then alternate to share any drift.
    for (const c of Object.values(calls)) await runLoad("warm-up", c, { total: 200, concurrency: 8 });
    for (const [name, call] of Object.entries(calls)) {
      const serial = await runLoad(`${mode} ${name} c=1`, call, { total: SERIAL, concurrency: 1 });
      const mean = serial.latencies.reduce((a, b) => a + b, 0) / serial.latencies.length;
      const loaded = await runLoad(`${mode} ${name} c=32`, call, { total: REQUESTS, concurrency: 32 });
      out[name] = { c1MeanMs: round(mean, 3), c1P99Ms: round(percentile(serial.latencies, 99), 3), c32ReqPerSec: Math.round(REQUESTS / loaded.seconds) };
    }
    const t = out["token"] as { c1MeanMs: number; c32ReqPerSec: number };
    const k = out["key"] as { c1MeanMs: number; c32ReqPerSec: number };
    out["keyOverhead"] = { c1MeanMs: round(k.c1MeanMs - t.c1MeanMs, 3), c32ThroughputPct: round((k.c32ReqPerSec / t.c32ReqPerSec - 1) * 100, 1) };
    return out;
  } finally {
    await api.stop();
  }
}

async function benchLog(): Promise<Record<string, unknown>> {
  const tdb = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-bench-"));
  const db = await openDatabase({ databaseUrl: tdb.url, dataDir });
  const registry = new Registry();
  const log = createRequestLog({ prisma: db.prisma, registry, retentionDays: 30, storeBodies: false, prices: () => undefined, log: () => {} });
  log.start();
  const row = (i: number) => ({
    requestId: `bench-${i}`,
    method: "POST",
    route: "/v1/chat/completions",
    userId: undefined,
    keyId: undefined,
    model: "auto",
    status: 200,
    errorCode: undefined,
    startedAt: performance.now(),
    durationMs: 12,
    stream: false,
    ip: "127.0.0.1",
    calls: [{ provider: "template", outcome: "success", start: performance.now(), end: performance.now() + 10, model: "m", promptTokens: 20, completionTokens: 80 }],
  });
  try {
    // Offered at 2,000/s in 10 ms slices, for LOG_SECONDS.
    const target = 2000 * LOG_SECONDS;
    const started = performance.now();
    let offered = 0;
    while (offered < target) {
      const due = Math.min(target, Math.floor(((performance.now() - started) / 1000) * 2000));
      for (; offered < due; offered++) log.record(row(offered));
      await new Promise((r) => setTimeout(r, 10));
    }
    await log.flush();
    const elapsed = (performance.now() - started) / 1000;
    const written = await db.prisma.requestLog.count();
    const metrics = await registry.getMetricsAsJSON();
    const dropped = (metrics.find((m) => m.name === "switchboard_request_log_dropped_total")?.values[0]?.value as number) ?? 0;
    // The ceiling: a burst the writer drains as fast as PostgreSQL takes it.
    const burst = 50_000;
    for (let i = 0; i < burst; i++) log.record(row(target + i));
    const t0 = performance.now();
    await log.flush();
    const burstSec = (performance.now() - t0) / 1000;
    return { offeredPerSec: 2000, seconds: round(elapsed, 2), written, dropped, writtenPerSec: Math.round(written / elapsed), ceilingRowsPerSec: Math.round(burst / burstSec) };
  } finally {
    await log.close();
    await db.close();
    await tdb.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function benchRevoke(): Promise<Record<string, unknown>> {
  const tdb = await createTestDatabase();
  const prefix = uniquePrefix("bench-revoke");
  const env = { NODE_ENV: "production", LOG_LEVEL: "warn", PROVIDER_ORDER: "template" };
  const a = await startApiProcess({ databaseUrl: tdb.url, redisUrl: testRedisUrl(), redisKeyPrefix: prefix, env });
  const b = await startApiProcess({ databaseUrl: tdb.url, redisUrl: testRedisUrl(), redisKeyPrefix: prefix, env });
  try {
    const auth = await superAdminAuth(a.url);
    const times: number[] = [];
    for (let i = 0; i < REVOKES; i++) {
      const created = await trpc<{ id: string; key: string }>(a.url, "keys.create", { name: `r${i}` }, auth);
      const probe = async () => (await fetch(`${b.url}/v1/models`, { headers: { authorization: `Bearer ${created.key}` } })).status;
      if ((await probe()) !== 200) throw new Error("key not accepted on the other instance");
      const t0 = performance.now();
      const revoking = trpc(a.url, "keys.revoke", { id: created.id }, auth);
      let status = 200;
      while (status !== 401) {
        status = await probe();
        if (performance.now() - t0 > 10_000) throw new Error("not refused within 10 s");
      }
      times.push(performance.now() - t0);
      await revoking;
    }
    times.sort((x, y) => x - y);
    return { runs: times.length, p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)), maxMs: round(times.at(-1)!) };
  } finally {
    await a.stop();
    await b.stop();
    await tdb.drop();
    await deleteKeysWithPrefix(prefix);
  }
}

/** Median milliseconds of `runs` calls of `fn`. */
async function medianMs(fn: () => Promise<unknown>, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return round(percentile(times.sort((x, y) => x - y), 50), 1);
}

async function benchExport(): Promise<Record<string, unknown>> {
  const tdb = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-bench-"));
  const db = await openDatabase({ databaseUrl: tdb.url, dataDir });
  const log = createRequestLog({ prisma: db.prisma, registry: new Registry(), retentionDays: 30, storeBodies: false, prices: () => undefined, log: () => {} });
  try {
    // Three rows in four are one heavy user's, the rest spread over 100 users; one in 50 failed,
    // one in 10 tagged; a row every 10 ms back from now.
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO "RequestLog" ("id", "requestId", "createdAt", "userId", "method", "route", "model", "provider", "status", "errorCode", "latencyMs", "tags")
      SELECT gen_random_uuid()::text, 'bench-' || i, now() - i * interval '10 milliseconds',
        CASE WHEN i % 4 = 0 THEN 'light-' || (i / 4) % 100 ELSE 'heavy' END, 'POST', '/v1/chat/completions',
        CASE WHEN i % 2 = 0 THEN 'auto' ELSE 'gpt-4o' END, 'template', CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END,
        CASE WHEN i % 50 = 0 THEN 'UPSTREAM_ERROR' END, 12, CASE WHEN i % 10 = 0 THEN ARRAY['team:a'] ELSE ARRAY[]::text[] END
      FROM generate_series(1, ${EXPORT_ROWS}) AS i`);
    await db.prisma.$executeRawUnsafe(`VACUUM ANALYZE "RequestLog"`);
    const admin = { id: "admin", role: "ADMIN" as const };
    const atMost = LOG_EXPORT.maxRows + 1;
    const cases: Array<[string, { id: string; role: "USER" | "ADMIN" }, NonNullable<LogFilters>]> = [
      ["ADMIN, no filter", admin, {}],
      ["USER, own (3/4 of the log)", { id: "heavy", role: "USER" }, {}],
      ["USER, own (1/400 of the log)", { id: "light-7", role: "USER" }, {}],
      ["ADMIN, from: the last quarter", admin, { from: new Date(Date.now() - EXPORT_ROWS * 2.5).toISOString() }],
      ["ADMIN, status 5xx (1 in 50)", admin, { status: "5xx" }],
      ["ADMIN, tag (1 in 10)", admin, { tag: "team:a" }],
      ["ADMIN, q matching nothing", admin, { q: "no-such-thing" }],
    ];
    const out: Record<string, unknown> = { rows: EXPORT_ROWS, countsUpTo: atMost };
    for (const [name, viewer, filters] of cases) {
      const matching = await log.countUpTo(viewer, filters, atMost);
      out[name] = {
        counted: matching,
        countMs: await medianMs(() => log.countUpTo(viewer, filters, atMost)),
        firstPageMs: await medianMs(() => log.list(viewer, { ...filters, limit: LOG_EXPORT.pageRows })),
      };
      progress(`export: ${name}`);
    }
    // The whole unfiltered export's pages, read as the export reads them (one run).
    const t0 = performance.now();
    let page = await log.list(admin, { limit: LOG_EXPORT.pageRows });
    for (let read = page.items.length; page.nextCursor !== null && read < LOG_EXPORT.maxRows; read += page.items.length) {
      page = await log.list(admin, { cursor: page.nextCursor, limit: LOG_EXPORT.pageRows });
    }
    out["whole export's pages, no filter (ms)"] = Math.round(performance.now() - t0);
    return out;
  } finally {
    await log.close();
    await db.close();
    await tdb.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const report: Record<string, unknown> = {};
if (PARTS.includes("overhead")) {
  report["overheadEmbedded"] = await benchOverhead("embedded");
  report["overheadCluster"] = await benchOverhead("cluster");
}
if (PARTS.includes("log")) report["requestLog"] = await benchLog();
if (PARTS.includes("revoke")) report["revokeToRefusal"] = await benchRevoke();
if (PARTS.includes("export")) report["logExportCount"] = await benchExport();
process.stderr.write("\n");
console.log(JSON.stringify(report, null, 2));
