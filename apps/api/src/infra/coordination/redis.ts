/**
 * Redis coordination adapter for cluster mode. Two connections: commands, and a
 * dedicated subscriber (a connection in subscribe mode cannot run other commands).
 *
 * Start: rejects with one clear Error if the URL is invalid or Redis is not ready within
 * connectTimeoutMs. After start, losing Redis never crashes the process: commands reject
 * at once, state() is "degraded", ioredis reconnects forever, channels are re-subscribed,
 * and only then are onReconnect handlers run (so a resync cannot miss a message).
 */
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { Coordination, InstanceInfo, Unsubscribe } from "./port.ts";
import { errorText, openClient, parseRedisUrl, waitForReady, type Lifecycle } from "./redis-connection.ts";
import { createSubscriptionHub } from "./redis-pubsub.ts";
import { createLeasedLimits } from "./leased-limits.ts";
import { BORROW_LUA, CONSUME_LUA, HEARTBEAT_LUA, INCR_LUA, LIVE_INSTANCES_LUA, RAISE_LUA, RETURN_LEASE_LUA, TAKE_LUA } from "./redis-scripts.ts";

export type CoordinationLog = (level: "info" | "warn" | "error", msg: string) => void;

export interface RedisCoordinationOptions {
  url: string;
  /** Prepended to every key and channel (default "switchboard:"). */
  keyPrefix?: string;
  /** Names this instance's connections (CLIENT LIST) — default host-pid. */
  instanceId?: string;
  connectTimeoutMs?: number;
  /** Per-command deadline, so a half-open socket cannot hang callers (default 5000). */
  commandTimeoutMs?: number;
  log?: CoordinationLog;
  /** consumeLeased: unused borrowed points of a key idle this long go back (default 1000). */
  leaseIdleMs?: number;
}

type ScriptRunner = (...args: (string | number)[]) => Promise<unknown>;

const defaultLog: CoordinationLog = (level, msg) => {
  if (level !== "info") console.error(msg);
};

export async function createRedisCoordination(opts: RedisCoordinationOptions): Promise<Coordination> {
  const display = parseRedisUrl(opts.url);
  const log = opts.log ?? defaultLog;
  const prefix = opts.keyPrefix ?? "switchboard:";
  const connectTimeoutMs = opts.connectTimeoutMs ?? 3_000;
  const name = `${prefix}${opts.instanceId ?? `${hostname()}-${process.pid}`}`.replace(/\s/g, "_");
  const life: Lifecycle = { started: false, closing: false };

  const cmd = openClient(opts.url, `${name}:cmd`, connectTimeoutMs, opts.commandTimeoutMs ?? 5_000, life);
  const sub = openClient(opts.url, `${name}:sub`, connectTimeoutMs, opts.commandTimeoutMs ?? 5_000, life);
  const hub = createSubscriptionHub(sub, log);
  const reconnectHandlers = new Set<() => void>();
  let degraded = false; // a connection dropped and recovery (incl. resubscribe) is not done
  let restoring = false;
  let errorLogged = false;

  // Scripts go through EVALSHA with automatic EVAL fallback (e.g. after a Redis restart).
  const script = (id: string, lua: string, keys: number): ScriptRunner => {
    cmd.defineCommand(id, { lua, numberOfKeys: keys });
    return (cmd as unknown as Record<string, ScriptRunner>)[id]!.bind(cmd);
  };
  const incrScript = script("sbIncr", INCR_LUA, 1);
  const raiseScript = script("sbRaise", RAISE_LUA, 1);
  const consumeScript = script("sbConsume", CONSUME_LUA, 1);
  const heartbeatScript = script("sbHeartbeat", HEARTBEAT_LUA, 2);
  const liveScript = script("sbLiveInstances", LIVE_INSTANCES_LUA, 2);
  const borrowScript = script("sbBorrow", BORROW_LUA, 1);
  const returnScript = script("sbReturnLease", RETURN_LEASE_LUA, 1);
  const takeScript = script("sbTake", TAKE_LUA, 1);

  const k = (key: string) => prefix + key;
  // Internal namespaces start with "__" so they cannot collide with get/set keys.
  const bucketKey = (key: string) => `${prefix}__rl:${key}`;
  const instancesKey = `${prefix}__instances`;
  const instancesInfoKey = `${prefix}__instances:info`;

  // Redis wants whole positive milliseconds (PX 1.5 or PX 0 is an error, PEXPIRE 0 deletes).
  const ms = (n: number) => Math.max(1, Math.ceil(n));
  const isUp = () => cmd.status === "ready" && sub.status === "ready";

  function recovered(): void {
    if (!life.started || life.closing || !degraded || restoring || !isUp()) return;
    degraded = false;
    errorLogged = false;
    log("info", `Redis connection restored (${display})`);
    for (const h of [...reconnectHandlers]) {
      try {
        h();
      } catch (err) {
        log("error", `coordination: onReconnect handler threw: ${String(err)}`);
      }
    }
  }

  for (const [role, client] of [["commands", cmd], ["subscriber", sub]] as const) {
    // Always-present listener: an 'error' event without one would crash the process.
    client.on("error", (err: unknown) => {
      if (life.closing || !life.started || errorLogged) return; // one line per outage
      errorLogged = true;
      log("warn", `Redis ${role} connection error: ${errorText(err)}`);
    });
    client.on("close", () => {
      if (life.closing || !life.started || degraded) return;
      degraded = true;
      log("warn", `Redis connection lost (${display}); degraded, reconnecting`);
    });
    client.on("ready", () => {
      if (!life.started || life.closing) return;
      if (client !== sub) return recovered();
      restoring = true;
      hub
        .restore()
        .then(() => {
          restoring = false;
          recovered();
        })
        .catch((err: unknown) => {
          restoring = false;
          log("warn", `Redis resubscribe failed (${errorText(err)}); reconnecting subscriber`);
          // Still connected but unsubscribed: force a fresh connection, which retries this.
          // (If the socket dropped instead, ioredis is already reconnecting.)
          if (sub.status === "ready") sub.disconnect(true);
        });
    });
  }

  try {
    await waitForReady([cmd, sub], connectTimeoutMs, display);
  } catch (err) {
    life.closing = true;
    cmd.disconnect();
    sub.disconnect();
    throw err;
  }
  life.started = true;

  // Re-labels the terse ioredis offline errors; Redis' own errors (WRONGTYPE...) pass as-is.
  async function run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (life.closing) throw new Error(`Coordination is closed (${op})`, { cause: err });
      if (!isUp() || degraded) {
        throw new Error(`Redis unavailable (${op}): ${errorText(err)}`, { cause: err });
      }
      throw err;
    }
  }

  // Leases share the buckets of consume(), so exact and leased callers of one key agree.
  const leased = createLeasedLimits(
    {
      async borrow(key, limit, windowMs, want, need) {
        const [granted, free, ttlMs, windowEndMs] = (await borrowScript(bucketKey(key), limit, ms(windowMs), want, need)) as number[];
        return { granted: granted!, free: free!, ttlMs: ttlMs!, windowEndMs: windowEndMs! };
      },
      async giveBack(key, points, windowEndMs) {
        if (isUp()) await returnScript(bucketKey(key), points, windowEndMs);
      },
      available: () => !life.closing && !degraded && isUp(),
    },
    { idleMs: opts.leaseIdleMs },
  );

  async function quit(client: Redis): Promise<void> {
    if (client.status !== "ready") return client.disconnect();
    const timer = setTimeout(() => client.disconnect(), 1_000);
    await client.quit().catch(() => client.disconnect());
    clearTimeout(timer);
  }

  /** SET only when the key is absent (NX) or present (XX); true when it was set. */
  const setWhen = async (condition: "NX" | "XX", key: string, value: string, ttlMs: number | undefined): Promise<boolean> => {
    const expiry = ttlMs && ttlMs > 0 ? ["PX", ms(ttlMs)] : [];
    return (await cmd.call("SET", k(key), value, ...expiry, condition)) === "OK";
  };

  return {
    kind: "redis",
    get: (key) => run("get", () => cmd.get(k(key))),
    getMany: (keys) => run("getMany", async () => (keys.length === 0 ? [] : cmd.mget(keys.map(k)))),
    set: (key, value, o) =>
      run("set", async () => {
        if (o?.ttlMs && o.ttlMs > 0) await cmd.set(k(key), value, "PX", ms(o.ttlMs));
        else await cmd.set(k(key), value);
      }),
    setIfAbsent: (key, value, o) => run("setIfAbsent", () => setWhen("NX", key, value, o?.ttlMs)),
    setIfPresent: (key, value, o) => run("setIfPresent", () => setWhen("XX", key, value, o?.ttlMs)),
    del: (key) => run("del", async () => void (await cmd.del(k(key)))),
    take: (key) => run("take", async () => (await takeScript(k(key))) as string | null),
    raise: (key, value, o) =>
      run("raise", async () => {
        if (!Number.isFinite(value)) throw new Error("ERR value is not a finite number");
        return Number(await raiseScript(k(key), String(value), o?.ttlMs && o.ttlMs > 0 ? ms(o.ttlMs) : 0));
      }),
    incr: (key, by = 1, o) =>
      run("incr", async () => {
        const ttl = o?.ttlMs && o.ttlMs > 0 ? ms(o.ttlMs) : 0; // 0: no ttl
        return Number(await incrScript(k(key), by, ttl));
      }),
    hincrByFloat: (key, field, by) =>
      run("hincrByFloat", async () => Number(await cmd.hincrbyfloat(k(key), field, by))),
    hgetall: (key) => run("hgetall", () => cmd.hgetall(k(key))),
    publish: (channel, message) => run("publish", async () => void (await cmd.publish(k(channel), message))),
    subscribe: (channel, handler): Promise<Unsubscribe> =>
      run("subscribe", () => hub.subscribe(k(channel), handler)),

    consume: (key, limit, windowMs, points = 1) =>
      run("consume", async () => {
        const [allowed, remaining, retryAfterMs, resetMs] = (await consumeScript(
          bucketKey(key), limit, ms(windowMs), points,
        )) as [number, number, number, number];
        return { allowed: allowed === 1, remaining, retryAfterMs: allowed === 1 ? 0 : Math.max(1, retryAfterMs), resetMs: Math.max(1, resetMs) };
      }),

    consumeLeased: (key, limit, windowMs, points = 1) => {
      if (life.closing) return Promise.reject(new Error("Coordination is closed (consumeLeased)"));
      return leased.consume(key, limit, windowMs, points);
    },

    heartbeat: (instance, ttlMs) =>
      run("heartbeat", async () => {
        const info: InstanceInfo = { ...instance, lastSeenAt: new Date().toISOString() };
        await heartbeatScript(instancesKey, instancesInfoKey, instance.id, ms(ttlMs), JSON.stringify(info));
      }),
    liveInstances: () =>
      run("liveInstances", async () => {
        const raw = (await liveScript(instancesKey, instancesInfoKey)) as (string | null)[];
        return raw
          .filter((j): j is string => typeof j === "string")
          .map((j) => JSON.parse(j) as InstanceInfo)
          .sort((a, b) => a.id.localeCompare(b.id));
      }),

    async ping() {
      if (life.closing || !isUp()) return false;
      // Bounded separately from commandTimeout: /ready must answer quickly.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, 1_000, false)));
      const pong = cmd.ping().then((r) => r === "PONG", () => false);
      const ok = await Promise.race([pong, timeout]);
      clearTimeout(timer);
      return ok;
    },
    state: () => (life.closing || degraded || !isUp() ? "degraded" : "ready"),
    onReconnect(handler) {
      reconnectHandlers.add(handler);
      return () => void reconnectHandlers.delete(handler);
    },
    async close() {
      if (life.closing) return;
      life.closing = true;
      reconnectHandlers.clear();
      hub.clear();
      await leased.close(); // points held here go back before the connection quits
      await Promise.all([quit(cmd), quit(sub)]);
    },
  };
}
