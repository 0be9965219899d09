/**
 * The coordination port: the small set of shared-state primitives that instances of
 * Switchboard need to agree on. Redis implements it in cluster mode; an in-process adapter
 * implements it for the embedded single-machine default. Both pass one contract suite
 * (coordination.contract.ts), so behaviour cannot drift between them.
 */

export type Unsubscribe = () => Promise<void>;

export interface RateLimitResult {
  allowed: boolean;
  /** Requests still allowed in the current window (0 when refused). */
  remaining: number;
  /** Milliseconds until the caller may try again (0 when allowed). */
  retryAfterMs: number;
  /** Milliseconds until the current window ends and the full limit is back. */
  resetMs: number;
}

export interface InstanceInfo {
  id: string;
  startedAt: string;
  lastSeenAt: string;
  /** Free-form details (host, port, version...) published with the heartbeat. */
  meta: Record<string, unknown>;
}

export type ConnectionState = "ready" | "degraded";

export interface Coordination {
  readonly kind: "memory" | "redis";

  /**
   * Key/value with optional TTL. Values are strings; callers serialise. `set` replaces any
   * previous TTL (no ttlMs = no expiry). Keys, channels, rate-limit buckets and heartbeats
   * are namespaced by the adapter (Redis: keyPrefix), so callers use short names.
   */
  get(key: string): Promise<string | null>;
  /**
   * Several keys in one call (Redis: one MGET, one round trip), values in the order of
   * `keys`, null for a missing key. For hot paths that read more than one key per request.
   */
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  set(key: string, value: string, opts?: { ttlMs?: number }): Promise<void>;
  /** Sets only if absent; true when this call created the key. */
  setIfAbsent(key: string, value: string, opts?: { ttlMs?: number }): Promise<boolean>;
  /** Sets only if present (not expired, not deleted); true when it replaced the value. */
  setIfPresent(key: string, value: string, opts?: { ttlMs?: number }): Promise<boolean>;
  del(key: string): Promise<void>;
  /**
   * Reads a string key and deletes it in one step (Redis: one script), null when missing: of
   * callers racing for the same key, exactly one gets the value. For what must be used once.
   */
  take(key: string): Promise<string | null>;
  /**
   * Keeps the larger of the number held and `value` (a missing or non-numeric value counts as
   * none) and gives the key `ttlMs` either way, atomically: a time kept this way only moves
   * forward, whichever instance writes last. Returns the number held after. Without `ttlMs`
   * the key keeps no TTL (as `set`).
   */
  raise(key: string, value: number, opts?: { ttlMs?: number }): Promise<number>;

  /** Atomic counters. `incr` creates the key at 0; ttl applies only when it creates it. */
  incr(key: string, by?: number, opts?: { ttlMs?: number }): Promise<number>;
  /** Atomic float add on a hash field (per-instance metric aggregation). */
  hincrByFloat(key: string, field: string, by: number): Promise<number>;
  hgetall(key: string): Promise<Record<string, string>>;

  /**
   * Pub/sub. The handler receives each message published after subscribe resolved, never
   * synchronously inside publish(). Redis: subscribe() to a channel this instance is not yet
   * subscribed to rejects while degraded; existing channels are restored on reconnect.
   */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;

  /**
   * Fixed-window rate limit: consumes `points` (default 1) from bucket `key` allowing
   * `limit` per `windowMs`. Atomic across instances. Refused calls consume nothing, and
   * report retryAfterMs in (0, windowMs] = time until the current window ends.
   */
  consume(key: string, limit: number, windowMs: number, points?: number): Promise<RateLimitResult>;

  /**
   * The same fixed-window limit for the request path, decided from state held in this
   * instance: quota is borrowed from the shared bucket in batches, served locally, refilled
   * in the background and given back when the key goes idle (Redis: leased-limits.ts; in
   * process it is `consume`). Never admits more than `limit` per window across the fleet
   * while the store is reachable; while it is not, each instance enforces `limit` alone.
   * Limits that must be exact per attempt (sign-in) use `consume`.
   */
  consumeLeased(key: string, limit: number, windowMs: number, points?: number): Promise<RateLimitResult>;

  /**
   * Instance heartbeats: announce this instance alive for `ttlMs` (lastSeenAt is set by the
   * adapter); list live instances sorted by id.
   */
  heartbeat(instance: Omit<InstanceInfo, "lastSeenAt">, ttlMs: number): Promise<void>;
  liveInstances(): Promise<InstanceInfo[]>;

  /** Cheap liveness check for /ready. */
  ping(): Promise<boolean>;
  /** "degraded" while the backing store is unreachable (always "ready" in memory). */
  state(): ConnectionState;
  /**
   * Called whenever the connection comes back after being degraded (resync hook). Redis:
   * runs after subscriptions are restored, so a resync cannot miss a message.
   */
  onReconnect(handler: () => void): () => void;

  /** Idempotent. Afterwards ping() is false and every other call rejects. */
  close(): Promise<void>;
}
