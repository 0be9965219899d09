/**
 * The one contract every coordination adapter must pass (memory.test.ts runs it in-process,
 * redis.integration.test.ts on real Redis). Timing-dependent checks poll with a deadline
 * (vi.waitFor); "must not happen" checks wait on an observable event (a marker key
 * expiring, another subscriber receiving) instead of sleeping.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Coordination } from "./port.ts";

export type CoordinationFactory = () => Promise<Coordination>;

const poll = { timeout: 10_000, interval: 10 };
/**
 * A TTL for a key the test reads or changes again before it may expire: long enough that a
 * slow round trip cannot outlast it, short enough that waiting for the expiry stays cheap.
 */
const SHORT_TTL_MS = 1_000;

export function describeCoordinationContract(name: string, factory: CoordinationFactory): void {
  describe(`coordination contract: ${name}`, () => {
    let c: Coordination;
    beforeEach(async () => {
      c = await factory();
    });
    afterEach(async () => {
      await c.close();
    });

    describe("key/value", () => {
      it("get returns null for a missing key, set/get round-trips, set overwrites", async () => {
        expect(await c.get("kv:missing")).toBeNull();
        await c.set("kv:a", "1");
        expect(await c.get("kv:a")).toBe("1");
        await c.set("kv:a", "two");
        expect(await c.get("kv:a")).toBe("two");
      });

      it("getMany reads several keys in order: null for missing, expired or non-string keys", async () => {
        expect(await c.getMany([])).toEqual([]);
        await c.set("kv:m1", "one");
        await c.set("kv:m2", "two", { ttlMs: 60_000 });
        await c.set("kv:m-short", "gone", { ttlMs: 60 });
        await c.hincrByFloat("kv:m-hash", "f", 1);
        expect(await c.getMany(["kv:m2", "kv:m-missing", "kv:m1", "kv:m-hash", "kv:m1"])).toEqual(["two", null, "one", null, "one"]);
        await vi.waitFor(async () => expect(await c.get("kv:m-short")).toBeNull(), poll);
        expect(await c.getMany(["kv:m-short", "kv:m1"])).toEqual([null, "one"]);
      });

      it("expires keys set with ttlMs and keeps those without", async () => {
        await c.set("kv:long", "x", { ttlMs: 60_000 });
        await c.set("kv:short", "y", { ttlMs: 60 });
        await c.set("kv:forever", "z");
        expect(await c.get("kv:long")).toBe("x");
        await vi.waitFor(async () => expect(await c.get("kv:short")).toBeNull(), poll);
        expect(await c.get("kv:long")).toBe("x");
        expect(await c.get("kv:forever")).toBe("z");
      });

      it("set without ttl clears a previous ttl", async () => {
        await c.set("kv:t", "1", { ttlMs: 60 });
        await c.set("kv:t", "2");
        await c.set("kv:marker", "m", { ttlMs: 60 });
        await vi.waitFor(async () => expect(await c.get("kv:marker")).toBeNull(), poll);
        expect(await c.get("kv:t")).toBe("2");
      });

      it("del removes strings and hashes; deleting a missing key is fine", async () => {
        await c.set("kv:d", "1");
        await c.hincrByFloat("kv:h", "f", 1);
        await c.del("kv:d");
        await c.del("kv:h");
        await c.del("kv:never");
        expect(await c.get("kv:d")).toBeNull();
        expect(await c.hgetall("kv:h")).toEqual({});
      });
    });

    describe("take", () => {
      it("of many concurrent callers exactly one gets the value, and the key is gone", async () => {
        await c.set("take:a", "v", { ttlMs: 60_000 });
        const results = await Promise.all(Array.from({ length: 20 }, () => c.take("take:a")));
        expect(results.filter((r) => r !== null)).toEqual(["v"]);
        expect(await c.get("take:a")).toBeNull();
        expect(await c.take("take:never")).toBeNull();
      });

      it("finds nothing once the key expired", async () => {
        await c.set("take:t", "v", { ttlMs: 60 });
        await vi.waitFor(async () => expect(await c.get("take:t")).toBeNull(), poll);
        expect(await c.take("take:t")).toBeNull();
      });
    });

    describe("setIfAbsent", () => {
      it("exactly one of many concurrent callers wins, and its value is stored", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => c.setIfAbsent("nx:race", `v${i}`, { ttlMs: 60_000 })),
        );
        const winners = results.flatMap((won, i) => (won ? [i] : []));
        expect(winners).toHaveLength(1);
        expect(await c.get("nx:race")).toBe(`v${winners[0]}`);
      });

      it("refuses an existing key and succeeds again after it expired or was deleted", async () => {
        expect(await c.setIfAbsent("nx:a", "1", { ttlMs: SHORT_TTL_MS })).toBe(true);
        expect(await c.setIfAbsent("nx:a", "2")).toBe(false);
        expect(await c.get("nx:a")).toBe("1");
        await vi.waitFor(async () => expect(await c.setIfAbsent("nx:a", "3")).toBe(true), poll);
        expect(await c.get("nx:a")).toBe("3");
        await c.del("nx:a");
        expect(await c.setIfAbsent("nx:a", "4")).toBe(true);
      });
    });

    describe("setIfPresent", () => {
      it("replaces a live key (and its TTL), never creates one, nor brings back one deleted or expired", async () => {
        expect(await c.setIfPresent("xx:a", "1", { ttlMs: 60_000 })).toBe(false);
        expect(await c.get("xx:a")).toBeNull();
        await c.set("xx:a", "1", { ttlMs: SHORT_TTL_MS });
        expect(await c.setIfPresent("xx:a", "2", { ttlMs: 60_000 })).toBe(true);
        expect(await c.get("xx:a")).toBe("2");
        await c.del("xx:a");
        expect(await c.setIfPresent("xx:a", "3")).toBe(false);
        expect(await c.get("xx:a")).toBeNull();
        await c.set("xx:b", "1", { ttlMs: 60 });
        await vi.waitFor(async () => expect(await c.get("xx:b")).toBeNull(), poll);
        expect(await c.setIfPresent("xx:b", "2")).toBe(false);
        expect(await c.get("xx:b")).toBeNull();
      });
    });

    describe("raise", () => {
      it("keeps the larger number whoever writes last, and renews the ttl either way", async () => {
        expect(await c.raise("max:a", 1_733_000_000_500, { ttlMs: 60_000 })).toBe(1_733_000_000_500);
        expect(await c.raise("max:a", 1_733_000_000_100, { ttlMs: 60_000 })).toBe(1_733_000_000_500);
        expect(await c.get("max:a")).toBe("1733000000500");
        expect(await c.raise("max:a", 1_733_000_000_900)).toBe(1_733_000_000_900);
        expect(await c.get("max:a")).toBe("1733000000900");
        // A lower write still renews the ttl: the key lives as long as its latest writer asked.
        await c.set("max:b", "20", { ttlMs: SHORT_TTL_MS });
        expect(await c.raise("max:b", 10, { ttlMs: 60_000 })).toBe(20);
        // Set after it with the same ttl: once the marker is gone, so would max:b be, unrenewed.
        await c.set("max:marker", "m", { ttlMs: SHORT_TTL_MS });
        await vi.waitFor(async () => expect(await c.get("max:marker")).toBeNull(), poll);
        expect(await c.get("max:b")).toBe("20");
      });

      it("treats a missing, expired or non-numeric value as none, and is atomic under concurrency", async () => {
        await c.set("max:c", "not a number");
        expect(await c.raise("max:c", 5)).toBe(5);
        for (const odd of ["nan", "inf", "Infinity", "0x10"]) {
          await c.set("max:odd", odd);
          expect(await c.raise("max:odd", 3), odd).toBe(3);
        }
        await c.set("max:d", "9", { ttlMs: 60 });
        await vi.waitFor(async () => expect(await c.get("max:d")).toBeNull(), poll);
        expect(await c.raise("max:d", 3)).toBe(3);
        const values = Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
        await Promise.all(values.map((v) => c.raise("max:e", v)));
        expect(await c.get("max:e")).toBe("99");
      });

      it("rejects a number that is not finite, changing nothing", async () => {
        await c.set("max:f", "7");
        await expect(c.raise("max:f", Number.NaN)).rejects.toThrow();
        expect(await c.get("max:f")).toBe("7");
      });
    });

    describe("incr", () => {
      it("creates at 0, adds `by` (default 1), accepts negatives", async () => {
        expect(await c.incr("n:a")).toBe(1);
        expect(await c.incr("n:a", 5)).toBe(6);
        expect(await c.incr("n:a", -10)).toBe(-4);
        expect(await c.get("n:a")).toBe("-4");
      });

      it("is atomic under 200 concurrent increments", async () => {
        const values = await Promise.all(Array.from({ length: 200 }, () => c.incr("n:race")));
        expect(new Set(values).size).toBe(200);
        expect(Math.max(...values)).toBe(200);
        expect(await c.get("n:race")).toBe("200");
      });

      it("applies ttl only when it creates the key", async () => {
        await c.incr("n:ttl", 1, { ttlMs: SHORT_TTL_MS });
        await c.incr("n:ttl", 1, { ttlMs: 60_000 }); // must not extend the first ttl
        await vi.waitFor(async () => expect(await c.get("n:ttl")).toBeNull(), poll);

        await c.incr("n:plain"); // created without ttl ...
        await c.incr("n:plain", 1, { ttlMs: 60 }); // ... and a later ttl is ignored
        await c.set("n:marker", "m", { ttlMs: 60 });
        await vi.waitFor(async () => expect(await c.get("n:marker")).toBeNull(), poll);
        expect(await c.get("n:plain")).toBe("2");
      });

      it("rejects a non-integer increment or a non-numeric value", async () => {
        await expect(c.incr("n:bad", 1.5)).rejects.toThrow(/integer/);
        await c.set("n:text", "abc");
        await expect(c.incr("n:text")).rejects.toThrow(/integer/);
      });
    });

    describe("hashes", () => {
      it("hincrByFloat accumulates per field and hgetall returns strings", async () => {
        expect(await c.hgetall("h:missing")).toEqual({});
        expect(await c.hincrByFloat("h:m", "calls", 1)).toBe(1);
        expect(await c.hincrByFloat("h:m", "calls", 2)).toBe(3);
        expect(await c.hincrByFloat("h:m", "time", 1.5)).toBe(1.5);
        expect(await c.hincrByFloat("h:m", "time", 0.25)).toBe(1.75);
        expect(await c.hgetall("h:m")).toEqual({ calls: "3", time: "1.75" });
      });

      it("hincrByFloat is atomic under concurrency", async () => {
        await Promise.all(Array.from({ length: 100 }, () => c.hincrByFloat("h:race", "f", 0.5)));
        expect(await c.hgetall("h:race")).toEqual({ f: "50" });
      });

      it("string and hash operations on the wrong type reject", async () => {
        await c.set("h:str", "x");
        await expect(c.hincrByFloat("h:str", "f", 1)).rejects.toThrow(/WRONGTYPE/);
        await c.hincrByFloat("h:hash", "f", 1);
        await expect(c.get("h:hash")).rejects.toThrow(/WRONGTYPE/);
      });
    });

    describe("pub/sub", () => {
      it("delivers messages in order to a subscriber", async () => {
        const got: string[] = [];
        await c.subscribe("ps:a", (m) => got.push(m));
        await c.publish("ps:a", "m1");
        await c.publish("ps:a", "m2");
        await vi.waitFor(() => expect(got).toEqual(["m1", "m2"]), poll);
      });

      it("delivers to two subscribers of one channel, and not across channels", async () => {
        const one: string[] = [];
        const two: string[] = [];
        const other: string[] = [];
        await c.subscribe("ps:b", (m) => one.push(m));
        await c.subscribe("ps:b", (m) => two.push(m));
        await c.subscribe("ps:other", (m) => other.push(m));
        await c.publish("ps:b", "hello");
        await vi.waitFor(() => expect([one, two]).toEqual([["hello"], ["hello"]]), poll);
        await c.publish("ps:other", "x");
        await vi.waitFor(() => expect(other).toEqual(["x"]), poll);
        expect([one, two]).toEqual([["hello"], ["hello"]]);
      });

      it("unsubscribe stops delivery to that handler only, and is idempotent", async () => {
        const gone: string[] = [];
        const kept: string[] = [];
        const unsubscribe = await c.subscribe("ps:c", (m) => gone.push(m));
        await c.subscribe("ps:c", (m) => kept.push(m));
        await unsubscribe();
        await unsubscribe();
        await c.publish("ps:c", "after");
        // Both handlers would receive in the same dispatch, so `kept` getting it proves
        // `gone` was skipped without sleeping.
        await vi.waitFor(() => expect(kept).toEqual(["after"]), poll);
        expect(gone).toEqual([]);
      });

      it("channel keeps working after its last subscriber left and a new one joined", async () => {
        const first = await c.subscribe("ps:d", () => {});
        await first();
        const got: string[] = [];
        await c.subscribe("ps:d", (m) => got.push(m));
        await c.publish("ps:d", "again");
        await vi.waitFor(() => expect(got).toEqual(["again"]), poll);
      });

      it("does not deliver messages published before subscribe", async () => {
        await c.publish("ps:e", "early");
        const got: string[] = [];
        await c.subscribe("ps:e", (m) => got.push(m));
        await c.publish("ps:e", "late");
        await vi.waitFor(() => expect(got).toContain("late"), poll);
        expect(got).toEqual(["late"]);
      });

      it("delivers asynchronously, and a throwing handler does not starve others", async () => {
        const got: string[] = [];
        await c.subscribe("ps:f", () => {
          throw new Error("handler bug (expected in this test)");
        });
        await c.subscribe("ps:f", (m) => got.push(m));
        const published = c.publish("ps:f", "m");
        expect(got).toEqual([]); // never delivered synchronously inside publish()
        await published;
        await vi.waitFor(() => expect(got).toEqual(["m"]), poll);
      });
    });

    // consumeLeased decides from local state in cluster mode; seen from one instance it
    // must behave exactly like consume (two-instance bounds: redis.integration.test.ts).
    describe.each(["consume", "consumeLeased"] as const)("%s (fixed-window rate limit)", (method) => {
      const consume = (key: string, limit: number, windowMs: number, points?: number) => c[method](key, limit, windowMs, points);

      it("allows exactly `limit` of many concurrent calls", async () => {
        const results = await Promise.all(Array.from({ length: 25 }, () => consume("rl:a", 5, 60_000)));
        const allowed = results.filter((r) => r.allowed);
        expect(allowed).toHaveLength(5);
        expect(allowed.map((r) => r.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
        for (const r of allowed) expect(r.retryAfterMs).toBe(0);
        for (const r of results.filter((x) => !x.allowed)) {
          expect(r.remaining).toBe(0);
          expect(r.retryAfterMs).toBeGreaterThan(0);
          expect(r.retryAfterMs).toBeLessThanOrEqual(60_000);
        }
      });

      it("counts points, and refused calls consume nothing", async () => {
        expect(await consume("rl:p", 10, 60_000, 4)).toMatchObject({ allowed: true, remaining: 6 });
        expect(await consume("rl:p", 10, 60_000, 4)).toMatchObject({ allowed: true, remaining: 2 });
        expect(await consume("rl:p", 10, 60_000, 4)).toMatchObject({ allowed: false, remaining: 0 });
        expect(await consume("rl:p", 10, 60_000, 2)).toMatchObject({ allowed: true, remaining: 0 });
        expect(await consume("rl:big", 3, 60_000, 4)).toMatchObject({ allowed: false });
      });

      it("resets when the window ends", async () => {
        const windowMs = SHORT_TTL_MS;
        expect((await consume("rl:w", 1, windowMs)).allowed).toBe(true);
        const refused = await consume("rl:w", 1, windowMs);
        expect(refused.allowed).toBe(false);
        expect(refused.retryAfterMs).toBeGreaterThan(0);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(windowMs);
        await vi.waitFor(async () => expect((await consume("rl:w", 1, windowMs)).allowed).toBe(true), poll);
      });

      it("keeps buckets apart from each other and from get/set keys", async () => {
        expect((await consume("rl:x", 1, 60_000)).allowed).toBe(true);
        expect((await consume("rl:y", 1, 60_000)).allowed).toBe(true);
        expect(await c.get("rl:x")).toBeNull();
      });
    });

    describe("heartbeats", () => {
      it("lists live instances with their info and drops expired ones", async () => {
        const startedAt = new Date().toISOString();
        const before = Date.now();
        await c.heartbeat({ id: "api-a", startedAt, meta: { port: 3001 } }, 60_000);
        await c.heartbeat({ id: "api-b", startedAt, meta: { port: 3002 } }, SHORT_TTL_MS);
        const live = await c.liveInstances();
        expect(live.map((i) => i.id)).toEqual(["api-a", "api-b"]);
        expect(live[0]).toMatchObject({ id: "api-a", startedAt, meta: { port: 3001 } });
        expect(Date.parse(live[0]!.lastSeenAt)).toBeGreaterThanOrEqual(before - 1_000);
        await vi.waitFor(async () => expect((await c.liveInstances()).map((i) => i.id)).toEqual(["api-a"]), poll);
      });

      it("a repeated heartbeat updates the entry instead of duplicating it", async () => {
        const startedAt = new Date().toISOString();
        await c.heartbeat({ id: "api-a", startedAt, meta: { v: 1 } }, 100);
        await c.heartbeat({ id: "api-a", startedAt, meta: { v: 2 } }, 60_000);
        await c.set("hb:marker", "m", { ttlMs: 100 });
        await vi.waitFor(async () => expect(await c.get("hb:marker")).toBeNull(), poll);
        const live = await c.liveInstances();
        expect(live).toHaveLength(1);
        expect(live[0]!.meta).toEqual({ v: 2 });
      });
    });

    describe("lifecycle", () => {
      it("ping is true, state is ready, onReconnect returns a disposer", async () => {
        expect(await c.ping()).toBe(true);
        expect(c.state()).toBe("ready");
        const dispose = c.onReconnect(() => {});
        expect(typeof dispose).toBe("function");
        dispose();
      });

      it("close is idempotent; afterwards ping is false and commands reject", async () => {
        await c.close();
        await c.close();
        expect(await c.ping()).toBe(false);
        await expect(c.get("x")).rejects.toThrow(/closed/i);
        await expect(c.getMany(["x"])).rejects.toThrow(/closed/i);
        await expect(c.publish("x", "y")).rejects.toThrow(/closed/i);
      });
    });
  });
}
