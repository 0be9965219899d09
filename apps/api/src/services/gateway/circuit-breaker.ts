/**
 * Per-provider circuit breaker, local to this instance: after `failureThreshold` consecutive
 * failures a provider is skipped for `cooldownMs`; then exactly one request probes it
 * (half-open) and its result closes the circuit or opens it for another cooldown. Local by
 * design: each instance learns within `failureThreshold` calls, and a shared breaker would
 * add a Redis round trip to every chat request.
 */
export type CircuitState = "closed" | "open" | "half_open";

export interface CircuitSnapshot {
  state: CircuitState;
  consecutiveFailures: number;
  /** When an open circuit lets a probe through (epoch ms); null unless open. */
  retryAt: number | null;
}

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  openUntil: number | null;
  probing: boolean;
}

export interface CircuitBreaker {
  /** True when a call may go out now; in half-open state only one caller gets true. */
  tryAcquire(id: string): boolean;
  recordSuccess(id: string): void;
  recordFailure(id: string): void;
  /** The acquired call ended without a verdict (e.g. the client left): free the probe slot. */
  release(id: string): void;
  snapshot(id: string): CircuitSnapshot;
  /** True while the circuit is open and its cooldown not over (no allocation: per-request path). */
  isOpen(id: string): boolean;
}

export function createCircuitBreaker(opts: CircuitBreakerOptions): CircuitBreaker {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const entry = (id: string): Entry => {
    let e = entries.get(id);
    if (!e) entries.set(id, (e = { failures: 0, openUntil: null, probing: false }));
    return e;
  };

  return {
    tryAcquire(id) {
      const e = entry(id);
      if (e.openUntil === null) return true;
      if (now() < e.openUntil || e.probing) return false;
      e.probing = true;
      return true;
    },
    recordSuccess(id) {
      const e = entry(id);
      e.failures = 0;
      e.openUntil = null;
      e.probing = false;
    },
    recordFailure(id) {
      const e = entry(id);
      e.failures += 1;
      if (e.probing || e.failures >= opts.failureThreshold) e.openUntil = now() + opts.cooldownMs;
      e.probing = false;
    },
    release(id) {
      entry(id).probing = false;
    },
    isOpen(id) {
      const e = entries.get(id);
      return e !== undefined && e.openUntil !== null && (now() < e.openUntil || e.probing);
    },
    snapshot(id) {
      const e = entry(id);
      if (e.openUntil === null) return { state: "closed", consecutiveFailures: e.failures, retryAt: null };
      const state = now() < e.openUntil || e.probing ? (e.probing ? "half_open" : "open") : "half_open";
      return { state, consecutiveFailures: e.failures, retryAt: state === "open" ? e.openUntil : null };
    },
  };
}
