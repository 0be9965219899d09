/**
 * A lost Redis never lets a revoked key through: with pushes impossible, an instance trusts
 * a held key only briefly and re-reads it from PostgreSQL, so a revoke made on another
 * instance during the outage still stops the key there. (Private redis-server: the shared
 * one must never be stopped.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { bearer } from "../../../test/http.ts";
import { uniquePrefix } from "../../../test/redis.ts";
import { startRedisServer, type RedisServer } from "../../../test/redis-server.ts";

let redis: RedisServer;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  redis = await startRedisServer();
  db = await createTestDatabase();
  const prefix = uniquePrefix("keys-outage");
  a = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, env: { REDIS_URL: redis.url } });
  b = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, env: { REDIS_URL: redis.url } });
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await redis?.stop();
  await db?.drop();
});

const models = async (t: TestApp, key: string) => (await fetch(`${t.url}/v1/models`, { headers: bearer(key) })).status;

async function until(fn: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("API keys while Redis is down", () => {
  it("a key revoked during the outage is refused by the other instance, and stays refused after", async () => {
    const user = await a.userWithRole("USER");
    const created = await a.client(user.token).keys.create.mutate({ name: "outage" });
    expect(await models(b, created.key)).toBe(200);

    await redis.kill();
    await until(async () => a.app.deps.coordination.state() === "degraded" && b.app.deps.coordination.state() === "degraded", 10_000);
    // Still served while nothing changed: PostgreSQL vouches for the key.
    expect(await models(b, created.key)).toBe(200);

    // The revoke is written to PostgreSQL; its push cannot be sent.
    await a.client(user.token).keys.revoke.mutate({ id: created.id });
    await until(async () => (await models(b, created.key)) === 401, 3_000);

    await redis.restart();
    await until(async () => b.app.deps.coordination.state() === "ready", 15_000);
    expect(await models(b, created.key)).toBe(401);
    expect(await models(a, created.key)).toBe(401);
  });
});
