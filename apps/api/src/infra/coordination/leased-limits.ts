/**
 * Rate limits decided from state held in this instance, so a request does not wait for a
 * network round trip. Each instance borrows points from the shared fixed-window bucket in
 * batches (one atomic script call per batch), serves requests from what it holds, borrows
 * the next batch in the background before it runs out, and gives unused points back when a
 * key goes idle.
 *
 * Why the fleet never admits more than `limit` per window while the store is reachable: a
 * point is counted in the shared bucket when it is borrowed, and a lease is only used until
 * (time the borrow was sent + the window's remaining ttl), which is never later than the
 * shared window's real end. So every point served in a window was counted in that window.
 * What can be lost is the opposite: points one instance holds cannot serve another's
 * callers until they are given back (idle return) or the window ends.
 *
 * Worst case per instance and key (documented in docs/performance.md):
 * - store reachable: no overshoot;
 * - the store restarts empty mid-window: at most the points this instance held, which is
 *   under 1.5 batches (less than half a batch when the background refill started, plus it);
 * - store unreachable: each instance enforces the whole limit on its own (a fixed window in
 *   memory, started when the store went away), so the fleet admits at most limit × instances
 *   per window until it is back — plus, in the window the store went away, what each had
 *   already admitted in the shared window and the points it still held.
 * A request waits for the network only when the instance holds no points for that key yet
 * (first request of a window, or demand outrunning the background refill).
 */
import type { RateLimitResult } from "./port.ts";

export interface BorrowAnswer {
  granted: number;
  /** Points still free in the shared bucket after this grant. */
  free: number;
  /** Time left in the shared window when the store answered. */
  ttlMs: number;
  /** The shared window's end on the store's clock: names the window for giveBack. */
  windowEndMs: number;
}

export interface LeaseBackend {
  /** Grants min(want, free) points, or nothing when fewer than `need` are free. */
  borrow(key: string, limit: number, windowMs: number, want: number, need: number): Promise<BorrowAnswer>;
  /** Returns unused points to the window they came from (a no-op once it ended). */
  giveBack(key: string, points: number, windowEndMs: number): Promise<void>;
  /** False while the store is unreachable: decide locally without trying. */
  available(): boolean;
}

export interface LeasedLimitsOptions {
  /** Unused points of a key not used for this long go back to the shared bucket. */
  idleMs?: number;
  /** Largest batch borrowed at once (batches are limit/16, at least 1). */
  maxBatch?: number;
  log?: (level: "warn", msg: string) => void;
}

export interface LeasedLimits {
  consume(key: string, limit: number, windowMs: number, points: number): Promise<RateLimitResult>;
  /** Gives every held point back; later consume calls are decided by the store again. */
  close(): Promise<void>;
}

interface Waiter {
  points: number;
  resolve(result: RateLimitResult): void;
}

interface Lease {
  limit: number;
  windowMs: number;
  /** Borrowed and not yet served. */
  tokens: number;
  /** The shared bucket's free points at the last borrow (for `remaining`). */
  free: number;
  /** Local monotonic time until which `tokens` are valid (never after the shared window's end). */
  expiresAt: number;
  windowEndMs: number;
  /** The shared bucket was full: refuse locally until then instead of asking again. */
  refusedUntil: number;
  lastUsed: number;
  borrowing: boolean;
  waiters: Waiter[];
  /** Fallback window while the store is unreachable. */
  localUsed: number;
  localEnd: number;
}

/** A client hammering a full bucket costs the store at most one call per key this often. */
const REFUSAL_CACHE_MS = 250;

const whole = (ms: number) => Math.max(1, Math.ceil(ms));
const allowed = (remaining: number, resetMs: number): RateLimitResult => ({ allowed: true, remaining, retryAfterMs: 0, resetMs: whole(resetMs) });
const refused = (retryAfterMs: number): RateLimitResult => ({ allowed: false, remaining: 0, retryAfterMs: whole(retryAfterMs), resetMs: whole(retryAfterMs) });

export function createLeasedLimits(backend: LeaseBackend, options: LeasedLimitsOptions = {}): LeasedLimits {
  const idleMs = options.idleMs ?? 1_000;
  const maxBatch = options.maxBatch ?? 1_024;
  const leases = new Map<string, Lease>();
  // Monotonic: a wall-clock step must not stretch a lease past its window.
  const now = () => performance.now();
  const batchOf = (lease: Lease) => Math.min(maxBatch, Math.max(1, Math.ceil(lease.limit / 16)));

  function fallback(lease: Lease, points: number, t: number): RateLimitResult {
    if (lease.localEnd <= t) {
      lease.localUsed = 0;
      lease.localEnd = t + lease.windowMs;
    }
    if (lease.localUsed + points > lease.limit) return refused(lease.localEnd - t);
    lease.localUsed += points;
    return allowed(lease.limit - lease.localUsed, lease.localEnd - t);
  }

  /** Serves waiters in order while the lease covers the first of them. */
  function serveWaiters(lease: Lease, t: number): void {
    while (lease.waiters.length > 0 && lease.waiters[0]!.points <= lease.tokens) {
      const w = lease.waiters.shift()!;
      lease.tokens -= w.points;
      w.resolve(allowed(lease.tokens + lease.free, lease.expiresAt - t));
    }
  }

  async function refill(key: string, lease: Lease): Promise<void> {
    lease.borrowing = true;
    try {
      for (;;) {
        const demand = lease.waiters.reduce((sum, w) => sum + w.points, 0);
        const need = lease.waiters[0]?.points ?? 1;
        const sent = now();
        let answer: BorrowAnswer;
        try {
          answer = await backend.borrow(key, lease.limit, lease.windowMs, Math.max(batchOf(lease), demand), need);
        } catch {
          // The store is unreachable: whoever waits is decided by the local fallback.
          const t = now();
          for (const w of lease.waiters.splice(0)) w.resolve(fallback(lease, w.points, t));
          return;
        }
        const t = now();
        const sameWindow = lease.expiresAt > t && Math.abs(answer.windowEndMs - lease.windowEndMs) <= 2;
        if (!sameWindow) lease.tokens = 0; // points of an ended window are void
        lease.expiresAt = sameWindow ? Math.max(lease.expiresAt, sent + answer.ttlMs) : sent + answer.ttlMs;
        lease.windowEndMs = answer.windowEndMs;
        lease.tokens += answer.granted;
        lease.free = answer.free;
        serveWaiters(lease, t);
        if (answer.granted === 0) {
          lease.refusedUntil = Math.min(lease.expiresAt, t + REFUSAL_CACHE_MS);
          for (const w of lease.waiters.splice(0)) w.resolve(refused(answer.ttlMs - (t - sent)));
        }
        if (lease.waiters.length === 0) return;
      }
    } finally {
      lease.borrowing = false;
    }
  }

  // Gives idle points back (so other instances can use them) and forgets ended windows
  // (so one-off keys do not accumulate). unref(): never keeps the process alive.
  const sweep = setInterval(() => {
    const t = now();
    for (const [key, lease] of leases) {
      if (lease.borrowing || lease.waiters.length > 0) continue;
      if (lease.expiresAt <= t && lease.localEnd <= t && lease.refusedUntil <= t) {
        leases.delete(key);
      } else if (lease.tokens > 0 && lease.expiresAt > t && t - lease.lastUsed >= idleMs) {
        const points = lease.tokens;
        lease.tokens = 0;
        lease.free += points;
        backend.giveBack(key, points, lease.windowEndMs).catch(() => {});
      }
    }
  }, Math.max(10, Math.floor(idleMs / 2)));
  sweep.unref();

  return {
    consume(key, limit, windowMs, points) {
      const t = now();
      let lease = leases.get(key);
      if (!lease) {
        lease = {
          limit, windowMs, tokens: 0, free: 0, expiresAt: 0, windowEndMs: 0, refusedUntil: 0,
          lastUsed: t, borrowing: false, waiters: [], localUsed: 0, localEnd: 0,
        };
        leases.set(key, lease);
      }
      lease.limit = limit;
      lease.windowMs = windowMs;
      lease.lastUsed = t;
      if (lease.expiresAt <= t) lease.tokens = 0;
      if (lease.waiters.length === 0 && lease.tokens >= points) {
        lease.tokens -= points;
        // Refill before running out, so the next requests do not wait for the store.
        if (!lease.borrowing && lease.free > 0 && lease.tokens < Math.ceil(batchOf(lease) / 2) && backend.available()) {
          void refill(key, lease);
        }
        return Promise.resolve(allowed(lease.tokens + lease.free, lease.expiresAt - t));
      }
      if (lease.waiters.length === 0 && lease.refusedUntil > t && points > lease.free) return Promise.resolve(refused(lease.expiresAt - t));
      if (!backend.available()) return Promise.resolve(fallback(lease, points, t));
      const held = lease;
      return new Promise<RateLimitResult>((resolve) => {
        held.waiters.push({ points, resolve });
        if (!held.borrowing) void refill(key, held);
      });
    },

    async close() {
      clearInterval(sweep);
      const t = now();
      const back: Array<Promise<void>> = [];
      for (const [key, lease] of leases) {
        if (lease.tokens > 0 && lease.expiresAt > t) back.push(backend.giveBack(key, lease.tokens, lease.windowEndMs).catch(() => {}));
      }
      leases.clear();
      await Promise.all(back);
    },
  };
}
