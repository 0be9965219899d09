import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { deleteKeysWithPrefix, startTcpProxy, testRedisUrl, uniquePrefix } from "../../../test/redis.ts";
import { describeCoordinationContract } from "./coordination.contract.ts";
import { createCoordination } from "./index.ts";
import { createRedisCoordination, type RedisCoordinationOptions } from "./redis.ts";

const url = testRedisUrl();
const prefixes: string[] = [];
const quiet = () => {};

function prefix(): string {
  const p = uniquePrefix("coordination");
  prefixes.push(p);
  return p;
}

function open(opts: Partial<RedisCoordinationOptions> = {}) {
  return createRedisCoordination({ url, keyPrefix: prefix(), log: quiet, ...opts });
}

afterAll(async () => {
  await Promise.all(prefixes.map((p) => deleteKeysWithPrefix(p)));
});

describeCoordinationContract("redis", () => open());

describe("redis adapter", () => {
  it("is what createCoordination picks with a Redis URL", async () => {
    const c = await createCoordination({ redisUrl: url, keyPrefix: prefix(), log: quiet });
    expect(c.kind).toBe("redis");
    await c.close();
  });

  it.each(["not a url", "redis://127.0.0.1:abc", "http://127.0.0.1:6379", "redis://127.0.0.1:6379/x"])(
    "rejects the unparsable URL %j with a clear message",
    async (bad) => {
      await expect(createRedisCoordination({ url: bad, log: quiet })).rejects.toThrow(/^Invalid REDIS_URL .*expected redis:\/\//);
    },
  );

  it("keeps passwords out of error messages", async () => {
    const err = await createRedisCoordination({ url: "redis://u:s3cret@127.0.0.1:1", connectTimeoutMs: 300, log: quiet })
      .catch((e: unknown) => e as Error);
    expect(String(err)).toMatch(/unreachable/);
    expect(String(err)).not.toContain("s3cret");
  });

  it("rejects within the timeout when Redis is unreachable", async () => {
    const t0 = Date.now();
    await expect(open({ url: "redis://127.0.0.1:1", connectTimeoutMs: 500 })).rejects.toThrow(
      /^Redis unreachable at redis:\/\/127\.0\.0\.1:1\/? within 500ms \(last error: .*ECONNREFUSED/,
    );
    // Not an endless reconnect, nor the 3 s default in place of the timeout given.
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it("two instances share state, counters, limits, heartbeats and pub/sub", async () => {
    const keyPrefix = prefix();
    const [a, b] = await Promise.all([open({ keyPrefix }), open({ keyPrefix })]);
    try {
      await a.set("flag", "on");
      expect(await b.get("flag")).toBe("on");
      await Promise.all([...Array(50)].flatMap(() => [a.incr("n"), b.incr("n")]));
      expect(await a.get("n")).toBe("100");
      const limits = await Promise.all([...Array(10)].flatMap(() => [a.consume("rl", 7, 60_000), b.consume("rl", 7, 60_000)]));
      expect(limits.filter((r) => r.allowed)).toHaveLength(7);
      const startedAt = new Date().toISOString();
      await a.heartbeat({ id: "a", startedAt, meta: {} }, 60_000);
      await b.heartbeat({ id: "b", startedAt, meta: {} }, 60_000);
      expect((await a.liveInstances()).map((i) => i.id)).toEqual(["a", "b"]);
      const got: string[] = [];
      await b.subscribe("emergency", (m) => got.push(m));
      await a.publish("emergency", "freeze");
      await vi.waitFor(() => expect(got).toEqual(["freeze"]), { timeout: 10_000 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("keeps instances with different prefixes apart", async () => {
    const [a, b] = await Promise.all([open(), open()]);
    await a.set("k", "a");
    expect(await b.get("k")).toBeNull();
    await Promise.all([a.close(), b.close()]);
  });

  it("reloads its Lua scripts after the server lost them (SCRIPT FLUSH, restart)", async () => {
    const c = await open();
    const admin = new Redis(url);
    try {
      expect(await c.incr("n")).toBe(1);
      await admin.script("FLUSH");
      expect(await c.incr("n")).toBe(2);
      expect((await c.consume("rl", 1, 60_000)).allowed).toBe(true);
    } finally {
      admin.disconnect();
      await c.close();
    }
  });

  it("survives Redis going away: fails fast, degrades, restores pub/sub, runs onReconnect", async () => {
    const proxy = await startTcpProxy(url);
    const keyPrefix = prefix();
    const logs: string[] = [];
    const a = await open({ url: proxy.url, keyPrefix, log: (level, msg) => logs.push(`${level}: ${msg}`) });
    const b = await open({ keyPrefix }); // a second instance that keeps its connection
    try {
      let reconnects = 0;
      a.onReconnect(() => reconnects++);
      const got: string[] = [];
      await a.subscribe("events", (m) => got.push(m));

      await proxy.cut();
      await vi.waitFor(() => expect(a.state()).toBe("degraded"), { timeout: 10_000 });
      const t0 = Date.now();
      await expect(a.get("k")).rejects.toThrow(/^Redis unavailable \(get\)/);
      await expect(a.subscribe("new-channel", () => {})).rejects.toThrow(/^Redis unavailable \(subscribe\)/);
      expect(await a.ping()).toBe(false);
      // Rejected at once, not queued until Redis is back nor left to the 5 s command timeout.
      expect(Date.now() - t0).toBeLessThan(2_000);
      // Joining a channel that is already subscribed needs no round trip, even degraded.
      const late: string[] = [];
      await a.subscribe("events", (m) => late.push(m));

      await proxy.restore();
      await vi.waitFor(() => expect(reconnects).toBe(1), { timeout: 10_000 });
      expect(a.state()).toBe("ready");
      await b.publish("events", "back");
      await vi.waitFor(() => expect([got, late]).toEqual([["back"], ["back"]]), { timeout: 10_000 });
      await a.set("k", "v");
      expect(await b.get("k")).toBe("v");
      expect(logs.some((l) => l.startsWith("warn: Redis connection lost"))).toBe(true);
      expect(logs.some((l) => l.startsWith("info: Redis connection restored"))).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await proxy.close();
    }
  });

  it("recovers when the server kills its connections (CLIENT KILL)", async () => {
    const keyPrefix = prefix();
    const instanceId = `kill-${randomBytes(4).toString("hex")}`;
    const a = await open({ keyPrefix, instanceId });
    const b = await open({ keyPrefix });
    const admin = new Redis(url);
    try {
      let reconnects = 0;
      a.onReconnect(() => reconnects++);
      const got: string[] = [];
      await a.subscribe("events", (m) => got.push(m));

      const list = (await admin.client("LIST")) as string;
      const ids = list
        .split("\n")
        .filter((line) => line.includes(`name=${keyPrefix}${instanceId}:`))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1]);
      expect(ids).toHaveLength(2); // the command and the subscriber connection
      for (const id of ids) await admin.client("KILL", "ID", id!);

      await vi.waitFor(() => expect(reconnects).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
      expect(a.state()).toBe("ready");
      await b.publish("events", "after-kill");
      await vi.waitFor(() => expect(got).toEqual(["after-kill"]), { timeout: 10_000 });
    } finally {
      admin.disconnect();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
