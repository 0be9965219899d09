/**
 * In-process coordination adapter for the embedded single-machine default.
 *
 * It mirrors the Redis adapter's observable behaviour (the contract suite runs against
 * both): strings and hashes share one key space with Redis-like type errors, TTLs expire,
 * pub/sub delivers asynchronously, and rate-limit buckets and heartbeats live in their own
 * namespaces exactly as they do in Redis.
 */
import type { Coordination, InstanceInfo, RateLimitResult, Unsubscribe } from "./port.ts";

type Entry =
  | { kind: "string"; value: string; expiresAt: number | null }
  | { kind: "hash"; fields: Map<string, string>; expiresAt: number | null };

interface Bucket {
  used: number;
  expiresAt: number;
}

interface Subscription {
  handler: (message: string) => void;
}

export interface MemoryCoordinationOptions {
  /** Where handler/hook exceptions go; defaults to console.error. */
  log?: (level: "info" | "warn" | "error", msg: string) => void;
  /** How often expired entries are swept (reads also expire lazily). */
  sweepIntervalMs?: number;
}

// Same wording as Redis so callers see one error vocabulary whichever adapter runs.
const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER = "ERR value is not an integer or out of range";

export function createMemoryCoordination(options: MemoryCoordinationOptions = {}): Coordination {
  const log = options.log ?? ((level, msg) => level !== "info" && console.error(msg));
  const store = new Map<string, Entry>();
  const buckets = new Map<string, Bucket>();
  const instances = new Map<string, { info: InstanceInfo; expiresAt: number }>();
  const channels = new Map<string, Set<Subscription>>();
  let closed = false;

  // Monotonic clock: TTLs must not jump when the wall clock is adjusted.
  const now = () => performance.now();

  // Lazy expiry handles reads; the sweep stops never-read keys (per-IP buckets...) from
  // accumulating. unref() so an idle adapter never keeps the process alive.
  const sweep = setInterval(() => {
    const t = now();
    for (const [k, e] of store) if (e.expiresAt !== null && e.expiresAt <= t) store.delete(k);
    for (const [k, b] of buckets) if (b.expiresAt <= t) buckets.delete(k);
    for (const [k, i] of instances) if (i.expiresAt <= t) instances.delete(k);
  }, options.sweepIntervalMs ?? 30_000);
  sweep.unref();

  function assertOpen(): void {
    if (closed) throw new Error("Coordination is closed");
  }

  function live(key: string): Entry | undefined {
    const e = store.get(key);
    if (e && e.expiresAt !== null && e.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return e;
  }

  function expiryFor(ttlMs: number | undefined): number | null {
    return ttlMs !== undefined && ttlMs > 0 ? now() + ttlMs : null;
  }

  function assertInteger(by: number): void {
    if (!Number.isSafeInteger(by)) throw new Error(NOT_INTEGER);
  }

  function liveHash(key: string): Map<string, string> | undefined {
    const e = live(key);
    if (e && e.kind !== "hash") throw new Error(WRONGTYPE);
    return e?.fields;
  }

  const coordination: Coordination = {
    kind: "memory",

    async get(key) {
      assertOpen();
      const e = live(key);
      if (e && e.kind !== "string") throw new Error(WRONGTYPE);
      return e ? e.value : null;
    },

    async getMany(keys) {
      assertOpen();
      // Like MGET: a key holding another type reads as missing instead of failing.
      return keys.map((key) => {
        const e = live(key);
        return e && e.kind === "string" ? e.value : null;
      });
    },

    async set(key, value, opts) {
      assertOpen();
      // Like Redis SET without KEEPTTL: overwrites any type and replaces the TTL.
      store.set(key, { kind: "string", value, expiresAt: expiryFor(opts?.ttlMs) });
    },

    async setIfAbsent(key, value, opts) {
      assertOpen();
      if (live(key)) return false;
      store.set(key, { kind: "string", value, expiresAt: expiryFor(opts?.ttlMs) });
      return true;
    },

    async setIfPresent(key, value, opts) {
      assertOpen();
      if (!live(key)) return false;
      store.set(key, { kind: "string", value, expiresAt: expiryFor(opts?.ttlMs) });
      return true;
    },

    async del(key) {
      assertOpen();
      store.delete(key);
    },

    async take(key) {
      assertOpen();
      const e = live(key);
      if (e && e.kind !== "string") throw new Error(WRONGTYPE);
      store.delete(key);
      return e ? e.value : null;
    },

    async raise(key, value, opts) {
      assertOpen();
      if (!Number.isFinite(value)) throw new Error("ERR value is not a finite number");
      const e = live(key);
      if (e && e.kind !== "string") throw new Error(WRONGTYPE);
      // Digits only, as the Redis script reads them ("Infinity" or "0x10" count as none).
      const held = e && /^-?\d+\.?\d*$/.test(e.value) ? Number(e.value) : NaN;
      const kept = e && held >= value ? e.value : String(value);
      store.set(key, { kind: "string", value: kept, expiresAt: expiryFor(opts?.ttlMs) });
      return Number(kept);
    },

    async incr(key, by = 1, opts) {
      assertOpen();
      assertInteger(by);
      const e = live(key);
      if (!e) {
        store.set(key, { kind: "string", value: String(by), expiresAt: expiryFor(opts?.ttlMs) });
        return by;
      }
      if (e.kind !== "string") throw new Error(WRONGTYPE);
      if (!/^-?\d+$/.test(e.value)) throw new Error(NOT_INTEGER);
      const next = Number(e.value) + by;
      e.value = String(next); // keeps the existing TTL, as INCRBY does
      return next;
    },

    async hincrByFloat(key, field, by) {
      assertOpen();
      if (!Number.isFinite(by)) throw new Error("ERR value is not a valid float");
      let fields = liveHash(key);
      if (!fields) {
        fields = new Map();
        store.set(key, { kind: "hash", fields, expiresAt: null });
      }
      const next = Number(fields.get(field) ?? "0") + by;
      fields.set(field, String(next));
      return next;
    },

    async hgetall(key) {
      assertOpen();
      return Object.fromEntries(liveHash(key) ?? []);
    },

    async publish(channel, message) {
      assertOpen();
      const subs = channels.get(channel);
      if (!subs || subs.size === 0) return;
      // Snapshot now (later subscribers must not see this message) but deliver on a later
      // macrotask, like a Redis round trip: publishers never run handlers re-entrantly.
      const targets = [...subs];
      setImmediate(() => {
        for (const s of targets) {
          if (closed || !channels.get(channel)?.has(s)) continue; // unsubscribed meanwhile
          try {
            s.handler(message);
          } catch (err) {
            log("error", `coordination: subscriber on "${channel}" threw: ${String(err)}`);
          }
        }
      });
    },

    async subscribe(channel, handler): Promise<Unsubscribe> {
      assertOpen();
      const sub: Subscription = { handler }; // one token per call: same fn twice = two subs
      let subs = channels.get(channel);
      if (!subs) channels.set(channel, (subs = new Set()));
      subs.add(sub);
      return async () => {
        const current = channels.get(channel);
        if (!current) return;
        current.delete(sub);
        if (current.size === 0) channels.delete(channel);
      };
    },

    async consume(key, limit, windowMs, points = 1): Promise<RateLimitResult> {
      assertOpen();
      const t = now();
      let b = buckets.get(key);
      if (!b || b.expiresAt <= t) {
        b = { used: 0, expiresAt: t + windowMs };
        buckets.set(key, b);
      }
      // Refused requests do not consume: a client hammering a full bucket still gets in
      // as soon as the window turns over (matches the Redis Lua script).
      if (b.used + points > limit) {
        const wait = Math.max(1, Math.ceil(b.expiresAt - t));
        return { allowed: false, remaining: 0, retryAfterMs: wait, resetMs: wait };
      }
      b.used += points;
      return { allowed: true, remaining: limit - b.used, retryAfterMs: 0, resetMs: Math.max(1, Math.ceil(b.expiresAt - t)) };
    },

    // One process holds the only copy of every bucket: the exact limit is already local.
    consumeLeased(key, limit, windowMs, points) {
      return coordination.consume(key, limit, windowMs, points);
    },

    async heartbeat(instance, ttlMs) {
      assertOpen();
      const info: InstanceInfo = { ...instance, lastSeenAt: new Date().toISOString() };
      instances.set(instance.id, { info, expiresAt: now() + ttlMs });
    },

    async liveInstances() {
      assertOpen();
      const t = now();
      const out: InstanceInfo[] = [];
      for (const [id, i] of instances) {
        if (i.expiresAt <= t) instances.delete(id);
        else out.push(i.info);
      }
      return out.sort((a, b) => a.id.localeCompare(b.id));
    },

    async ping() {
      return !closed;
    },

    state() {
      return "ready";
    },

    onReconnect() {
      // Nothing to reconnect to in-process; the hook is accepted so callers need no branch.
      return () => {};
    },

    async close() {
      closed = true;
      clearInterval(sweep);
      store.clear();
      buckets.clear();
      instances.clear();
      channels.clear();
    },
  };
  return coordination;
}
