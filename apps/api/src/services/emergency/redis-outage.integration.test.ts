/**
 * Redis trouble, for real: a private redis-server this test kills and restarts, a TCP proxy
 * that cuts one instance off, and CLIENT KILL. The policy under test (docs/emergency.md):
 * instances keep their last known state, /ready says degraded, a change received while Redis
 * is unreachable applies locally and in PostgreSQL and reaches the fleet once Redis is back,
 * and every reconnect resyncs from PostgreSQL.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { bearer, trpcQuery } from "../../../test/http.ts";
import { startRedisServer, type RedisServer } from "../../../test/redis-server.ts";
import { startTcpProxy, uniquePrefix, type TcpProxy } from "../../../test/redis.ts";
import { STATE_KEY } from "./messages.ts";

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

let db: TestDatabase;
let redis: RedisServer;
let proxy: TcpProxy;
const prefix = uniquePrefix("emergency-outage");
/** A reaches Redis through the proxy (cut it to isolate A); B connects directly. */
let a: TestApp;
let b: TestApp;
let rootA: string;
let rootB: string;

async function eventually(check: () => boolean | Promise<boolean>, what: string, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const prisma = () => a.app.deps.db.prisma;
const readiness = async (t: TestApp) => (await (await fetch(`${t.url}/ready`)).json()) as { status: string; checks: { coordination: { status: string } } };
const usersListStatus = async (t: TestApp, token: string) => (await trpcQuery(t.url, "users.list", undefined, bearer(token))).status;

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await startRedisServer();
  proxy = await startTcpProxy(redis.url);
  // The periodic safety-net resync is pushed out of the way so the tests see what
  // reconnects and republishing do on their own; acks are asserted, not timed.
  const appOptions = { emergency: { reconcileIntervalMs: 3_600_000, ackWaitMs: 10_000 } };
  a = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, env: { REDIS_URL: proxy.url }, appOptions });
  b = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, env: { REDIS_URL: redis.url }, appOptions });
  rootA = await a.login();
  rootB = await b.login();
});

afterAll(async () => {
  await b?.close();
  await a?.close();
  await proxy?.close();
  await redis?.stop();
  await db?.drop();
});

describe("emergency stop when Redis is in trouble", () => {
  it("an instance cut off from Redis keeps serving its last state, reports degraded, and a freeze it takes reaches the fleet when Redis returns", async () => {
    const revoked = await a.login();
    expect(await a.client(revoked).auth.logout.mutate({})).toEqual({ ok: true });
    await proxy.cut();
    await eventually(() => a.app.deps.coordination.state() === "degraded", "A to notice Redis is gone");
    // Revocations are checked against PostgreSQL meanwhile: a logged-out token stays dead.
    expect((await trpcQuery(a.url, "auth.me", undefined, bearer(revoked))).status).toBe(401);
    const ready = await readiness(a);
    expect(ready.status).toBe("degraded");
    expect(ready.checks.coordination.status).toBe("degraded");
    expect(await usersListStatus(a, rootA)).toBe(200); // last known state: not frozen

    // Signed in through PostgreSQL's session row, since revocations in Redis are unreachable.
    const result = await a.client(rootA).emergency.freeze.mutate({ reason: "frozen during a Redis outage" });
    expect(result).toMatchObject({ active: true, acknowledgedBy: 1, propagation: "local" });
    expect(await usersListStatus(a, rootA)).toBe(503);
    expect(await prisma().emergencyState.findUnique({ where: { id: "current" } })).toMatchObject({ active: true, version: result.version });
    // B could not have heard of it yet (documented: the receiving instance and PostgreSQL first).
    expect(b.app.deps.emergency.status().active).toBe(false);

    await proxy.restore();
    await eventually(() => b.app.deps.emergency.status().version === result.version, "A to publish the freeze once reconnected");
    expect(await usersListStatus(b, rootB)).toBe(503);
    expect((await readiness(a)).status).toBe("ready");

    const lifted = await b.client(rootB).emergency.unfreeze.mutate({});
    expect(lifted).toMatchObject({ changed: true, acknowledgedBy: 2, propagation: "confirmed" });
    expect(a.app.deps.emergency.status().active).toBe(false);
  });

  it("with Redis down everywhere nothing thaws; after it restarts empty, instances resync and restore the Redis copy", async () => {
    const frozen = await b.client(rootB).emergency.freeze.mutate({ reason: "before the crash", scope: "global" });
    expect(frozen.acknowledgedBy).toBe(2);

    await redis.kill();
    await eventually(() => a.app.deps.coordination.state() === "degraded" && b.app.deps.coordination.state() === "degraded", "both degraded");
    for (const t of [a, b]) {
      expect((await readiness(t)).status).toBe("degraded");
      expect(await usersListStatus(t, rootA)).toBe(503);
    }

    // Unfrozen through A while Redis is down: A and PostgreSQL at once, B after the restart.
    const lifted = await a.client(rootA).emergency.unfreeze.mutate({ reason: "lifted during the outage" });
    expect(lifted).toMatchObject({ active: false, changed: true, propagation: "local" });
    expect(await usersListStatus(a, rootA)).toBe(200);
    expect(await usersListStatus(b, rootB)).toBe(503);

    await redis.restart(); // empty: --save ''
    await eventually(() => b.app.deps.emergency.status().version === lifted.version, "B to resync on reconnect");
    expect(await usersListStatus(b, rootB)).toBe(200);
    const direct = new Redis(redis.url);
    try {
      await eventually(async () => JSON.parse((await direct.get(`${prefix}${STATE_KEY}`)) ?? "{}").version === lifted.version, "the Redis copy restored");
    } finally {
      direct.disconnect();
    }
    const rows = await prisma().emergencyEvent.findMany({ orderBy: { createdAt: "asc" } });
    expect(rows.at(-1)).toMatchObject({ action: "unfreeze", reason: "lifted during the outage", instanceId: a.app.deps.instanceId });
  });

  it("CLIENT KILL: an instance whose connections are killed resyncs from PostgreSQL when it reconnects", async () => {
    await eventually(() => a.app.deps.coordination.state() === "ready" && b.app.deps.coordination.state() === "ready", "both ready");
    // A change B never heard about, as if its pub/sub message had been lost while B's
    // connection was down: written straight into the source of truth.
    const current = await prisma().emergencyState.findUniqueOrThrow({ where: { id: "current" } });
    await prisma().emergencyState.update({
      where: { id: "current" },
      data: { active: true, scope: "chat", reason: "missed message", activatedAt: new Date(), activatedBy: "someone@else.test", version: current.version + 1 },
    });
    expect(b.app.deps.emergency.status().active).toBe(false);

    const admin = new Redis(redis.url);
    try {
      const clients = (await admin.client("LIST")) as string;
      const ids = clients
        .split("\n")
        .filter((line) => line.includes(`name=${prefix}${b.app.deps.instanceId}`))
        .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
        .filter((id): id is string => id !== undefined);
      expect(ids.length).toBe(2); // commands + subscriber
      for (const id of ids) await admin.client("KILL", "ID", id);
    } finally {
      admin.disconnect();
    }

    await eventually(() => b.app.deps.emergency.status().version === current.version + 1, "B to resync after reconnecting");
    expect(b.app.deps.emergency.status()).toMatchObject({ active: true, scope: "chat", reason: "missed message" });
    // Both connections come back, not necessarily together: the resync can land while the
    // second is still reconnecting (degraded for a moment).
    await eventually(() => b.app.deps.coordination.state() === "ready", "B's coordination to be ready again");
    // B republished what it found, so A (whose connection never dropped) has it too.
    await eventually(() => a.app.deps.emergency.status().version === current.version + 1, "A to hear B's republish");
    await a.client(rootA).emergency.unfreeze.mutate({});
  });
});
