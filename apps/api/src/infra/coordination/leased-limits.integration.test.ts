/**
 * consumeLeased across two instances on one Redis (two adapters, each with its own
 * connections, exactly what two API processes have): the fleet never admits more than the
 * limit while Redis is up, idle points flow back to the other instance, a Redis restart
 * costs at most one batch per instance, and an unreachable Redis falls back to a local
 * limit per instance.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { deleteKeysWithPrefix, startTcpProxy, testRedisUrl, uniquePrefix } from "../../../test/redis.ts";
import { startRedisServer } from "../../../test/redis-server.ts";
import type { Coordination, RateLimitResult } from "./port.ts";
import { createRedisCoordination, type RedisCoordinationOptions } from "./redis.ts";

const url = testRedisUrl();
const prefixes: string[] = [];
const quiet = () => {};

function pair(opts: Partial<RedisCoordinationOptions> = {}): Promise<[Coordination, Coordination]> {
  const keyPrefix = uniquePrefix("leased");
  prefixes.push(keyPrefix);
  const open = () => createRedisCoordination({ url, keyPrefix, log: quiet, ...opts });
  return Promise.all([open(), open()]);
}

afterAll(async () => {
  await Promise.all(prefixes.map((p) => deleteKeysWithPrefix(p)));
});

const admitted = (results: RateLimitResult[]) => results.filter((r) => r.allowed).length;

/** `rounds` waves of `perWave` concurrent calls on each instance, interleaved. */
async function hammer(instances: Coordination[], key: string, limit: number, rounds: number, perWave: number) {
  const perInstance = instances.map(() => [] as RateLimitResult[]);
  for (let round = 0; round < rounds; round++) {
    const waves = instances.map((c) => Promise.all(Array.from({ length: perWave }, () => c.consumeLeased(key, limit, 60_000))));
    (await Promise.all(waves)).forEach((results, i) => perInstance[i]!.push(...results));
  }
  return perInstance;
}

describe("consumeLeased on two instances", () => {
  it("admits exactly the limit across both, however the calls interleave", async () => {
    const [a, b] = await pair();
    try {
      // limit 200 → batches of 13: many borrows, refills and a final partial grant.
      const [fromA, fromB] = await hammer([a, b], "rl:shared", 200, 20, 15);
      expect(admitted(fromA!) + admitted(fromB!)).toBe(200);
      expect(admitted(fromA!)).toBeGreaterThan(0);
      expect(admitted(fromB!)).toBeGreaterThan(0);
      for (const r of [...fromA!, ...fromB!].filter((x) => !x.allowed)) {
        expect(r.retryAfterMs).toBeGreaterThan(0);
        expect(r.retryAfterMs).toBeLessThanOrEqual(60_000);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("borrows in batches: the shared bucket counts what was borrowed, a little ahead of what was served", async () => {
    const [a, b] = await pair();
    try {
      for (let i = 0; i < 100; i++) expect((await a.consumeLeased("rl:local", 1_600, 60_000)).allowed).toBe(true);
      // 100 requests at batches of 100 (1600/16): the shared bucket counted what was borrowed,
      // which is ahead of what was served (the background refill), never behind it.
      const peek = await b.consume("rl:local", 1_600, 60_000, 1);
      expect(peek.allowed).toBe(true);
      expect(1_600 - 1 - peek.remaining).toBeGreaterThanOrEqual(100);
      expect(1_600 - 1 - peek.remaining).toBeLessThanOrEqual(300);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("gives idle points back, so the other instance can use the whole limit", async () => {
    const [a, b] = await pair({ leaseIdleMs: 50 });
    try {
      expect((await a.consumeLeased("rl:idle", 32, 60_000)).allowed).toBe(true); // borrows a batch of 2
      // Until a's spare point comes back b gets 30; afterwards 31, the rest of the limit.
      await vi.waitFor(async () => {
        const probe = await b.consume("rl:idle", 32, 60_000, 31);
        expect(probe.allowed).toBe(true);
      }, { timeout: 3_000, interval: 20 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("a Redis restart mid-window costs at most 1.5 batches per instance", async () => {
    const redis = await startRedisServer();
    const open = () => createRedisCoordination({ url: redis.url, keyPrefix: "leased:", log: quiet });
    const [a, b] = await Promise.all([open(), open()]);
    try {
      const limit = 160; // batches of 10
      const before = await hammer([a, b], "rl:restart", limit, 2, 3); // 12 served, each holds the rest of a batch
      expect(admitted(before.flat())).toBe(12);
      await redis.kill();
      await redis.restart(); // empty: the window starts over
      await vi.waitFor(() => expect([a.state(), b.state()]).toEqual(["ready", "ready"]), { timeout: 10_000 });
      const after = await hammer([a, b], "rl:restart", limit, 40, 5);
      // A fresh window of `limit`, plus what each instance still held from before: under half
      // a batch when its background refill started, plus that refill (14 here).
      expect(admitted(after.flat())).toBeGreaterThanOrEqual(limit);
      expect(admitted(after.flat())).toBeLessThanOrEqual(limit + 2 * 15);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await redis.stop();
    }
  });

  it("while Redis is unreachable each instance enforces the limit on its own, and rejoins after", async () => {
    const proxy = await startTcpProxy(url);
    const [a, b] = await pair({ url: proxy.url });
    try {
      await proxy.cut();
      await vi.waitFor(() => expect([a.state(), b.state()]).toEqual(["degraded", "degraded"]), { timeout: 10_000 });
      const limit = 5;
      const during = await hammer([a, b], "rl:outage", limit, 1, 8);
      expect(during.map(admitted)).toEqual([limit, limit]);
      for (const r of during.flat().filter((x) => !x.allowed)) expect(r.retryAfterMs).toBeGreaterThan(0);

      await proxy.restore();
      await vi.waitFor(() => expect([a.state(), b.state()]).toEqual(["ready", "ready"]), { timeout: 10_000 });
      const after = await hammer([a, b], "rl:back", limit, 1, 8);
      expect(admitted(after.flat())).toBe(limit);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await proxy.close();
    }
  });
});
