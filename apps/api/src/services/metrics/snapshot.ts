/**
 * What one instance publishes about itself: cumulative figures since it started, never
 * deltas. Publishing is then idempotent (a retried or repeated flush cannot double-count),
 * and a dead instance's last snapshot stays valid: the cluster view sums live and
 * last-known snapshots alike (docs/metrics.md, "Cluster aggregation").
 */
import type { TCircuitState } from "@switchboard/schema";
import type { CacheResult } from "../../infra/request-scope.ts";
import type { SketchData } from "./sketch.ts";

export const SNAPSHOT_VERSION = 1;

export interface ProviderTotals {
  calls: number;
  successes: number;
  failures: number;
  aborted: number;
  /** Sum of call latencies, ms. */
  latencyMs: number;
  latency: SketchData;
  ttft: SketchData;
  promptTokens: number;
  completionTokens: number;
  fallbacksFrom: number;
  outcomes: Record<string, number>;
}

export interface CircuitView {
  state: TCircuitState;
  /** Epoch ms when an open circuit lets a probe through (then it reads as half_open). */
  retryAt: number | null;
}

export interface InstanceIdentity {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: string;
}

export interface InstanceSnapshot extends InstanceIdentity {
  v: typeof SNAPSHOT_VERSION;
  flushedAt: string;
  /** Gateway requests finished, and those that ended in an error. */
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
  /** A gauge: only meaningful while the instance is live. */
  activeStreams: number;
  /** Switchboard's own time per gateway request, ms. */
  overhead: SketchData;
  /** Gateway requests per epoch second over the last minute, for requests-per-minute. */
  recent: Array<[second: number, count: number]>;
  providers: Record<string, ProviderTotals>;
  /** Breaker state per provider on this instance (a gauge, like activeStreams). */
  circuits: Record<string, CircuitView>;
  /** Gateway requests that used the response cache, by what it did (absent from an older instance's snapshot). */
  cache?: CacheTotals;
}

/** Requests that used the response cache by result, and what its hits would have cost from a provider (USD). */
export type CacheTotals = Record<CacheResult, number> & { savedUsd: number };

export const emptyProviderTotals = (): ProviderTotals => ({
  calls: 0,
  successes: 0,
  failures: 0,
  aborted: 0,
  latencyMs: 0,
  latency: { zero: 0, bins: {} },
  ttft: { zero: 0, bins: {} },
  promptTokens: 0,
  completionTokens: 0,
  fallbacksFrom: 0,
  outcomes: {},
});

/** Parses a stored snapshot; null for anything that is not one of ours (never throws). */
export function parseSnapshot(raw: string | null): InstanceSnapshot | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<InstanceSnapshot>;
    if (value?.v !== SNAPSHOT_VERSION || typeof value.id !== "string" || typeof value.providers !== "object") return null;
    return value as InstanceSnapshot;
  } catch {
    return null;
  }
}
