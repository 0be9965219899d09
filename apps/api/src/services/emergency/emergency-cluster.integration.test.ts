/**
 * Two instances in this process sharing one PostgreSQL database and one Redis key prefix:
 * propagation with acknowledgements, live watch streams, stop signals, concurrent
 * SuperAdmins, expiry done once cluster-wide, restart and Redis flush recovery.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TEmergencyStatus } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { bearer, trpcQuery } from "../../../test/http.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "../../../test/redis.ts";
import { AppError } from "../errors.ts";
import { STATE_KEY } from "./messages.ts";

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

let db: TestDatabase;
const prefix = uniquePrefix("emergency-cluster");
let a: TestApp;
let b: TestApp;
let rootA: string;
const extra: TestApp[] = [];

const prisma = () => a.app.deps.db.prisma;
// Acks are asserted, not timed: a generous bound keeps busy CI cores from failing them.
const start = () => startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, appOptions: { emergency: { ackWaitMs: 10_000 } } });

/** Polls until `check` holds; the deadline only bounds a failing test, it asserts nothing about speed. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  a = await start();
  b = await start();
  rootA = await a.login();
});

afterAll(async () => {
  for (const t of [...extra, b, a]) await t?.close();
  await db?.drop();
  await deleteKeysWithPrefix(prefix);
});

async function unfreezeAll(): Promise<void> {
  await a.client(rootA).emergency.unfreeze.mutate({});
}

describe("emergency stop across instances", () => {
  it("a freeze through one instance is applied by every instance before it answers", async () => {
    const result = await a.client(rootA).emergency.freeze.mutate({ reason: "incident 42" });
    expect(result).toMatchObject({ active: true, acknowledgedBy: 2, liveInstances: 2, pendingInstances: [], propagation: "confirmed" });
    // Acknowledged means applied: no waiting needed on the other instance.
    expect(b.app.deps.emergency.status()).toMatchObject({ active: true, reason: "incident 42", version: result.version });
    const refused = await trpcQuery(b.url, "users.list", undefined, bearer(rootA));
    expect(refused.status).toBe(503);
    expect(refused.body.error.data.reason).toBe("incident 42");

    const lifted = await b.client(await b.login()).emergency.unfreeze.mutate({ reason: "resolved" });
    expect(lifted).toMatchObject({ active: false, changed: true, acknowledgedBy: 2, liveInstances: 2 });
    expect(a.app.deps.emergency.status().active).toBe(false);
  });

  it("emergency.watch streams every change over SSE, on any instance", async () => {
    const seen: TEmergencyStatus[] = [];
    const sub = b.client().emergency.watch.subscribe(undefined, { onData: (s) => seen.push(s) });
    try {
      await eventually(() => seen.length >= 1, "the initial state");
      expect(seen[0]!.active).toBe(false);
      await a.client(rootA).emergency.freeze.mutate({ reason: "watch me", scope: "chat" });
      await eventually(() => seen.some((s) => s.active && s.reason === "watch me"), "the freeze event");
      await unfreezeAll();
      await eventually(() => seen.at(-1)?.active === false && seen.length >= 3, "the unfreeze event");
      expect(seen.map((s) => s.active)).toEqual([false, true, false]);
    } finally {
      sub.unsubscribe();
    }
  });

  it("stop signals abort in-flight work on other instances with EMERGENCY_STOP", async () => {
    const chatStop = b.app.deps.emergency.stopSignal([{ kind: "feature", feature: "chat" }]);
    const openai = b.app.deps.emergency.stopSignal([{ kind: "provider", id: "openai" }]);
    const deepseek = b.app.deps.emergency.stopSignal([{ kind: "provider", id: "deepseek" }]);
    try {
      await a.client(rootA).emergency.freeze.mutate({ reason: "openai is misbehaving", scope: "provider:openai" });
      expect(openai.signal.aborted).toBe(true);
      expect(openai.signal.reason).toBeInstanceOf(AppError);
      expect((openai.signal.reason as AppError).code).toBe("EMERGENCY_STOP");
      expect(deepseek.signal.aborted).toBe(false);
      expect(chatStop.signal.aborted).toBe(false);

      await a.client(rootA).emergency.freeze.mutate({ reason: "all chat off", scope: "chat" });
      expect(chatStop.signal.aborted).toBe(true);
      expect((chatStop.signal.reason as AppError).message).toContain("all chat off");
      expect(deepseek.signal.aborted).toBe(false);
    } finally {
      for (const s of [chatStop, openai, deepseek]) s.dispose();
      await unfreezeAll();
    }
  });

  it("two SuperAdmins acting at once end in one consistent state, both audited", async () => {
    const rootB = await b.login();
    for (let round = 0; round < 5; round++) {
      const before = await prisma().emergencyEvent.count();
      const [x, y] = await Promise.all([
        a.client(rootA).emergency.freeze.mutate({ reason: `alice round ${round}`, scope: "chat" }),
        b.client(rootB).emergency.freeze.mutate({ reason: `bob round ${round}`, scope: "consensus" }),
      ]);
      expect(Math.abs(x.version - y.version)).toBe(1);
      const winner = x.version > y.version ? x : y;
      const row = await prisma().emergencyState.findUniqueOrThrow({ where: { id: "current" } });
      expect(row).toMatchObject({ version: winner.version, reason: winner.reason, scope: winner.scope });
      await eventually(
        () => a.app.deps.emergency.status().version === winner.version && b.app.deps.emergency.status().version === winner.version,
        "both instances on the winning version",
      );
      expect(a.app.deps.emergency.status()).toEqual(b.app.deps.emergency.status());
      expect(await prisma().emergencyEvent.count()).toBe(before + 2);

      // Two unfreezes at once: one lifts it, the other is a no-op; one audit row.
      const unfreezesBefore = await prisma().emergencyEvent.count({ where: { action: "unfreeze" } });
      const [u, v] = await Promise.all([
        a.client(rootA).emergency.unfreeze.mutate({}),
        b.client(rootB).emergency.unfreeze.mutate({}),
      ]);
      expect([u.changed, v.changed].sort()).toEqual([false, true]);
      expect(await prisma().emergencyEvent.count({ where: { action: "unfreeze" } })).toBe(unfreezesBefore + 1);
    }
  });

  it("the audit trail lists changes made at once in the order they took effect (the state's versions), not by a shared millisecond", async () => {
    const rootB = await b.login();
    for (let round = 0; round < 15; round++) {
      // Six SuperAdmin calls at once over two instances: several begin in the same millisecond.
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a.client(rootA) : b.client(rootB)).emergency.freeze.mutate({ reason: `round ${round} call ${i}`, scope: i % 3 === 0 ? "chat" : "consensus" })),
      );
      const byVersion = results.sort((x, y) => y.version - x.version).map((r) => r.reason);
      const page = await a.client(rootA).emergency.history.query({ limit: 6 });
      expect(page.items.map((e) => e.reason), `round ${round}`).toEqual(byVersion);
      // The newest audit row is the freeze in force.
      expect(a.app.deps.emergency.status().reason).toBe(page.items[0]!.reason);
      // The next page goes on from there, in the same order.
      const next = await a.client(rootA).emergency.history.query({ limit: 2, cursor: page.items[3]!.id });
      expect(next.items.map((e) => e.reason)).toEqual(byVersion.slice(4, 6));
    }
    await unfreezeAll();
  });

  it("an expiring freeze is lifted everywhere and recorded once, as an expiry", async () => {
    const frozen = await a.client(rootA).emergency.freeze.mutate({ reason: "short maintenance", expiresInSec: 1 });
    expect(frozen.expiresAt).not.toBeNull();
    await eventually(
      () => a.app.deps.emergency.status().version > frozen.version && b.app.deps.emergency.status().version > frozen.version,
      "both instances applied the recorded expiry",
    );
    expect(a.app.deps.emergency.status().active).toBe(false);
    const expiries = await prisma().emergencyEvent.findMany({ where: { action: "expire" } });
    expect(expiries).toHaveLength(1);
    expect(expiries[0]).toMatchObject({ scope: "global", actorId: null });
    expect((await trpcQuery(b.url, "users.list", undefined, bearer(rootA))).status).toBe(200);
  });

  it("a freeze that expired while no instance was running is lifted and recorded by the first to start", async () => {
    const current = await prisma().emergencyState.findUniqueOrThrow({ where: { id: "current" } });
    // As if the fleet had frozen with an expiry and then gone down before it passed.
    await prisma().emergencyState.update({
      where: { id: "current" },
      data: { active: true, scope: "global", reason: "expired offline", activatedAt: new Date(Date.now() - 120_000), activatedBy: "x@y.test", expiresAt: new Date(Date.now() - 60_000), version: current.version + 1 },
    });
    const expiriesBefore = await prisma().emergencyEvent.count({ where: { action: "expire" } });
    const c = await start();
    extra.push(c);
    expect(c.app.deps.emergency.status().active).toBe(false); // enforced as lifted at once
    await eventually(async () => (await prisma().emergencyEvent.count({ where: { action: "expire" } })) === expiriesBefore + 1, "the expiry audit row");
    await eventually(() => a.app.deps.emergency.status().version === current.version + 2, "the recorded expiry to reach the others");
    expect((await prisma().emergencyState.findUniqueOrThrow({ where: { id: "current" } })).active).toBe(false);
  });

  it("PostgreSQL is the truth even when it goes back (restored from a backup): a resync adopts it", async () => {
    const frozen = await a.client(rootA).emergency.freeze.mutate({ reason: "before the restore" });
    await prisma().emergencyState.update({
      where: { id: "current" },
      data: { active: false, reason: null, activatedAt: null, activatedBy: null, expiresAt: null, version: 1 },
    });
    await a.app.deps.emergency.resync();
    expect(a.app.deps.emergency.status()).toMatchObject({ active: false, version: 1 });
    expect(frozen.version).toBeGreaterThan(1);
    // Instances still holding the old numbering check PostgreSQL when a lower version
    // arrives, adopt it, and only then acknowledge.
    const next = await a.client(rootA).emergency.freeze.mutate({ reason: "after the restore", scope: "chat" });
    expect(next).toMatchObject({ version: 2, propagation: "confirmed" });
    expect(next.acknowledgedBy).toBe(next.liveInstances);
    expect(b.app.deps.emergency.status()).toMatchObject({ active: true, version: 2, reason: "after the restore" });
    for (const t of extra) expect(t.app.deps.emergency.status()).toMatchObject({ active: true, version: 2 });
    await unfreezeAll();
  });

  it("a restarted instance comes up frozen: the state is loaded from PostgreSQL before serving", async () => {
    const frozen = await a.client(rootA).emergency.freeze.mutate({ reason: "survive restarts" });
    const c = await start();
    extra.push(c);
    expect(c.app.deps.emergency.status()).toMatchObject({ active: true, reason: "survive restarts", version: frozen.version });
    expect((await trpcQuery(c.url, "users.list", undefined, bearer(rootA))).status).toBe(503);
    await unfreezeAll();
    expect(c.app.deps.emergency.status().active).toBe(false);
  });

  it("after a Redis flush instances keep the freeze and the Redis copy is restored from PostgreSQL", async () => {
    const frozen = await a.client(rootA).emergency.freeze.mutate({ reason: "survive a flush", scope: "global" });
    const redis = new Redis(testRedisUrl());
    try {
      expect(JSON.parse((await redis.get(`${prefix}${STATE_KEY}`))!)).toMatchObject({ version: frozen.version, active: true });
      await deleteKeysWithPrefix(prefix);
      expect(await redis.get(`${prefix}${STATE_KEY}`)).toBeNull();

      // Nothing thaws: the guard runs on local state.
      expect((await trpcQuery(a.url, "users.list", undefined, bearer(rootA))).status).toBe(503);
      expect((await trpcQuery(b.url, "users.list", undefined, bearer(rootA))).status).toBe(503);
      // A new instance finds the freeze in PostgreSQL and puts the Redis copy back.
      const d = await start();
      extra.push(d);
      expect(d.app.deps.emergency.status()).toMatchObject({ active: true, reason: "survive a flush" });
      expect(JSON.parse((await redis.get(`${prefix}${STATE_KEY}`))!)).toMatchObject({ version: frozen.version, active: true });
      // The periodic resync repairs it too.
      await redis.del(`${prefix}${STATE_KEY}`);
      await a.app.deps.emergency.resync();
      expect(JSON.parse((await redis.get(`${prefix}${STATE_KEY}`))!)).toMatchObject({ version: frozen.version });
    } finally {
      redis.disconnect();
      await unfreezeAll();
    }
  });
});
