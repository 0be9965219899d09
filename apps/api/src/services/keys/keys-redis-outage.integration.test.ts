/**
 * A lost Redis never lets a revoked key through: with pushes impossible, an instance trusts
 * a held key only briefly and re-reads it from PostgreSQL, so a revoke made on another
 * instance during the outage still stops the key there. Nor does it loosen a budget: the
 * requests in flight when Redis comes back still hold their places. (Private redis-server:
 * the shared one must never be stopped.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { startFakeOpenAI } from "../../../test/fake-openai-server.ts";
import { bearer, trpcQuery } from "../../../test/http.ts";
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

describe("budgets across a Redis restart", () => {
  const chat = (key: string) =>
    fetch(`${a.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: JSON.stringify({ model: "priced", messages: [{ role: "user", content: "hello there" }] }),
    });

  it("requests in flight when Redis comes back still hold their places in the budget", async () => {
    const upstream = await startFakeOpenAI({ name: "outage-priced", defaultBehavior: { kind: "ok", content: "a priced answer" } });
    let release = () => {};
    try {
      // The test before ends as soon as one instance is back.
      await until(async () => a.app.deps.coordination.state() === "ready" && b.app.deps.coordination.state() === "ready", 15_000);
      const root = a.client(await a.login());
      await root.providers.create.mutate({ name: "outage-priced", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-outage-0123456789", models: ["priced-1"] });
      await root.models.upsert.mutate({ name: "priced", targets: [{ provider: "outage-priced", upstreamModel: "priced-1" }], inputPricePerMTok: 100_000, outputPricePerMTok: 100_000 });
      const user = await a.userWithRole("USER");
      const created = await a.client(user.token).keys.create.mutate({ name: "in-flight", budgetUsd: 1e6, budgetPeriod: "day" });
      const first = await chat(created.key);
      expect(first.status).toBe(200);
      const requestId = first.headers.get("x-request-id")!;
      let cost = 0;
      await until(async () => {
        const res = await trpcQuery(a.url, "logs.list", { q: requestId }, bearer(user.token));
        cost = res.body.result.data.items[0]?.costUsd ?? 0;
        return cost > 0;
      }, 10_000);
      await a.client(user.token).keys.update.mutate({ id: created.id, budgetUsd: cost * 4.5 });

      /** Sends `count` at once; resolves once each reached the upstream (admitted) or was refused. */
      const burst = async (count: number) => {
        const before = upstream.requests.length;
        let refused = 0;
        const answers = Array.from({ length: count }, () => chat(created.key).then((res) => (res.status === 429 && refused++, res)));
        await until(async () => upstream.requests.length - before + refused === count, 10_000);
        return { admitted: upstream.requests.length - before, answers };
      };
      const gate = new Promise<void>((resolve) => (release = resolve));
      upstream.setDefault({ kind: "wait", until: gate, content: "a priced answer" });
      // One of 4.5 spent: three run side by side (1 + 3 in flight ≤ 4.5).
      const held = await burst(10);
      expect(held.admitted).toBe(3);

      let reconnected = false;
      const offReconnect = a.app.deps.coordination.onReconnect(() => (reconnected = true));
      await redis.kill();
      await until(async () => a.app.deps.coordination.state() === "degraded", 10_000);
      await redis.restart();
      // Registered after the budget ledger's handler, so it has run too.
      await until(async () => reconnected, 15_000);
      offReconnect();

      // The spend is read again (the restarted Redis lost its counter; the request log has
      // it), and the three in flight still count: nothing more fits.
      const after = await burst(10);
      expect(after.admitted).toBe(0);
      release();
      expect((await Promise.all(held.answers)).filter((r) => r.status === 200)).toHaveLength(3);
      for (const res of await Promise.all(after.answers)) {
        expect(res.status).toBe(429);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
      }
    } finally {
      release();
      await upstream.close();
    }
  }, 90_000);
});
