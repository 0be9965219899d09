/**
 * The periodic prunes of ended sessions and of old metric minutes delete a bounded batch per
 * statement, so a backlog that one DELETE could not get through within the statement bound
 * (DATABASE_STATEMENT_TIMEOUT_MS) is still worked off: a run deletes up to its cap of batches,
 * the next run goes on, and the rows that must stay stay. Real PostgreSQL with a short
 * statement bound, and a trigger of the test's own database making each deleted row slow, so
 * that the whole backlog in one statement would run past the bound.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase } from "../../test/database.ts";
import { captureLog } from "../../test/log-capture.ts";
import { createMemoryCoordination } from "../infra/coordination/memory.ts";
import { openDatabase, type Database } from "../infra/database.ts";
import { createSessionRevocations } from "./auth/revocations.ts";
import { createBucketStore } from "./metrics/bucket-store.ts";
import { createMetricsService } from "./metrics/metrics-service.ts";

const HOUR = 3600_000;
const STATEMENT_MS = 1_000;
/** Each deleted row takes this long: a backlog of BACKLOG rows is 2.5 statement bounds in one statement. */
const ROW_DELETE_SEC = 0.01;
const BACKLOG = 250;
const BATCH = 30;

let db: Database;
let server: { drop(): Promise<void> };
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "switchboard-prunes-"));
  const created = await createTestDatabase();
  server = created;
  db = await openDatabase({ databaseUrl: created.url, dataDir, statementTimeoutMs: STATEMENT_MS });
  await db.prisma.$executeRawUnsafe(`CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${ROW_DELETE_SEC}); RETURN OLD; END $$`);
  for (const table of ["Session", "MetricBucket"]) {
    await db.prisma.$executeRawUnsafe(`CREATE TRIGGER slow_delete BEFORE DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION slow_delete()`);
  }
}, 120_000);
afterAll(async () => {
  await db?.close();
  await server?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe("pruning a backlog past one statement's bound", () => {
  it("deletes every ended session, a capped number of batches per run, and keeps the rest", async () => {
    const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@switchboard.test`, passwordHash: "x" } });
    const now = Date.now();
    const row = (expiresAt: number, revokedAt?: number) => ({
      id: randomUUID(),
      userId: user.id,
      refreshTokenHash: randomUUID(),
      expiresAt: new Date(expiresAt),
      ...(revokedAt ? { revokedAt: new Date(revokedAt), revokedReason: "logout" } : {}),
    });
    const ended = Array.from({ length: BACKLOG }, (_, i) => (i % 2 === 0 ? row(now - 30 * HOUR - i * 1000) : row(now + 24 * HOUR, now - 30 * HOUR - i * 1000)));
    const kept = [row(now + 30 * 24 * HOUR), row(now - HOUR), row(now + 24 * HOUR, now - 1000)];
    await db.prisma.session.createMany({ data: [...ended, ...kept] });

    const revocations = createSessionRevocations({ prisma: db.prisma, coordination: createMemoryCoordination(), accessTtlSec: 900, pruneBatches: { batch: BATCH, maxBatches: 4 } });
    // One run deletes its cap, four batches; the following runs go on with what is left.
    expect(await revocations.pruneEnded()).toBe(4 * BATCH);
    let pruned = 4 * BATCH;
    while (pruned < BACKLOG) {
      const run = await revocations.pruneEnded();
      expect(run).toBeGreaterThan(0);
      pruned += run;
    }
    expect(pruned).toBe(BACKLOG);
    expect(await revocations.pruneEnded()).toBe(0);
    const left = (await db.prisma.session.findMany({ where: { userId: user.id }, select: { id: true } })).map((s) => s.id).sort();
    expect(left).toEqual(kept.map((s) => s.id).sort());
  });

  it("a stop during the sessions prune that start began waits for the batch in flight, and nothing deletes after it", async () => {
    const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@switchboard.test`, passwordHash: "x" } });
    const ended = new Date(Date.now() - 30 * HOUR);
    await db.prisma.session.createMany({
      data: Array.from({ length: 10 * BATCH }, () => ({ id: randomUUID(), userId: user.id, refreshTokenHash: randomUUID(), expiresAt: ended })),
    });
    const left = () => db.prisma.session.count({ where: { userId: user.id } });
    const failures: string[] = [];
    const revocations = createSessionRevocations({
      prisma: db.prisma,
      coordination: createMemoryCoordination(),
      accessTtlSec: 900,
      log: (msg) => void failures.push(msg),
      pruneBatches: { batch: BATCH, maxBatches: 100 },
    });
    await revocations.start();
    // The prune that start began is under way.
    await vi.waitFor(async () => expect(await left()).toBeLessThan(10 * BATCH), { timeout: 10_000, interval: 50 });
    await revocations.close();
    // It stopped between batches (rows remain) and its batch in flight had ended: nothing deletes once close answered.
    const atClose = await left();
    expect(atClose).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 2 * BATCH * ROW_DELETE_SEC * 1000));
    expect(await left()).toBe(atClose);
    expect(failures).toEqual([]);
  });

  it("deletes every metric minute past retention and keeps the recent ones", async () => {
    const minute = (at: number) => new Date(Math.floor(at / 60_000) * 60_000);
    const now = Date.now();
    const old = Array.from({ length: BACKLOG }, (_, i) => ({ minute: minute(now - 48 * HOUR - i * 60_000), provider: `p${i % 3}`, instance: "a" }));
    const recent = Array.from({ length: 5 }, (_, i) => ({ minute: minute(now - i * 60_000), provider: "p0", instance: "a" }));
    await db.prisma.metricBucket.createMany({ data: [...old, ...recent] });

    const buckets = createBucketStore(db.prisma, { pruneBatches: { batch: BATCH, maxBatches: 100 } });
    expect(await buckets.prune(new Date(now - 24 * HOUR))).toBe(BACKLOG);
    const left = await db.prisma.metricBucket.findMany({ orderBy: { minute: "desc" } });
    expect(left.map((r) => r.minute.getTime())).toEqual(recent.map((r) => r.minute.getTime()));
  });

  it("a metric prune of a long backlog holds up neither a timeseries read nor a graceful stop, and stops between batches", async () => {
    const minute = (at: number) => new Date(Math.floor(at / 60_000) * 60_000);
    const now = Date.now();
    // 40 batches of 0.3 s: a run of 12 s.
    const old = Array.from({ length: 40 * BATCH }, (_, i) => ({ minute: minute(now - 48 * HOUR - i * 60_000), provider: "p0", instance: "b" }));
    await db.prisma.metricBucket.createMany({ data: old });
    const log = captureLog();
    const metrics = createMetricsService({
      coordination: createMemoryCoordination(),
      prisma: db.prisma,
      registry: new Registry(),
      identity: { id: "prune-test", host: "test", pid: 1, version: "0", startedAt: new Date(now).toISOString() },
      log: pino(log.sink),
      circuits: () => ({}),
      activeProviders: () => [],
      emergency: () => ({ active: false, scope: "global", reason: null, activatedAt: null, activatedBy: null, expiresAt: null, version: 0 }),
      pruneBatches: { batch: BATCH, maxBatches: 100 },
    });
    const left = () => db.prisma.metricBucket.count({ where: { instance: "b" } });

    // The read's flush to the database starts the prune; the read does not wait for it.
    // Waiting for the whole run would have deleted every row first.
    await metrics.timeseries(undefined);
    expect(await left()).toBeGreaterThan(0);
    // And the run goes on meanwhile.
    await vi.waitFor(async () => expect(await left()).toBeLessThan(old.length), { timeout: 10_000, interval: 100 });

    // A stop ends the run after the batch in flight (rows remain), and nothing deletes once it has answered.
    await metrics.close();
    const atClose = await left();
    expect(atClose).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await left()).toBe(atClose);
    expect(log.lines.filter((line) => (line["level"] as number) >= 40)).toEqual([]);
  });
});
