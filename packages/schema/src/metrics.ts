import { z } from "zod";
import { ZCircuitState } from "./chat.ts";
import { ZEmergencyStatus } from "./emergency.ts";

/**
 * Metrics (docs/metrics.md). Times named `*Time` are seconds (the legacy `ai.<provider>`
 * shape operators already read); percentiles and every `*Ms` field are milliseconds.
 * Figures with no sample behind them are 0; read `calls` first.
 */

export type TCircuitState = z.infer<typeof ZCircuitState>;

const count = z.number().int().nonnegative();
const amount = z.number().nonnegative();

export const ZProviderMetrics = z.object({
  /** Upstream calls made (skips are not calls): successes + failures + aborted. */
  calls: count,
  successes: count,
  /** Calls that failed for the provider's sake: timeouts, HTTP errors, malformed replies, cut streams. */
  failures: count,
  /** Calls cancelled by the caller (client left, emergency stop): neither success nor failure. */
  aborted: count,
  /** successes / (successes + failures), in percent with 2 decimals. */
  successRate: amount,
  /** Seconds spent in calls to this provider, all outcomes. */
  totalTime: amount,
  /** totalTime / calls, seconds. */
  avgTime: amount,
  p50: amount,
  p95: amount,
  p99: amount,
  /** Median time to first token of successful streamed calls, ms. */
  ttftP50: amount,
  promptTokens: count,
  completionTokens: count,
  /** Failed calls after which the same request moved on to another provider. */
  fallbacksFrom: count,
  /** Most severe state among live instances (each instance has its own breaker). */
  circuit: ZCircuitState,
  /** In PROVIDER_ORDER and configured on the answering instance. */
  active: z.boolean(),
  /** Calls by attempt outcome (success, timeout, http_error, rate_limited…). */
  outcomes: z.record(z.string(), count),
});
export type TProviderMetrics = z.infer<typeof ZProviderMetrics>;

export const ZLatencySummary = z.object({ p50: amount, p95: amount, p99: amount });

/** Every provider together: the fleet's upstream traffic at a glance. */
export const ZUpstreamTotals = ZLatencySummary.extend({ calls: count, successes: count, failures: count, successRate: amount });

export const ZInstanceMetrics = z.object({
  id: z.string(),
  host: z.string(),
  pid: count,
  version: z.string(),
  startedAt: z.string(),
  /** When this instance last published its figures. */
  flushedAt: z.string(),
  /** Heartbeating now. A dead instance's last figures stay in the totals (docs/metrics.md). */
  live: z.boolean(),
  requests: count,
  requestsPerMinute: count,
  errors: count,
  activeStreams: count,
  calls: count,
  successes: count,
  failures: count,
  providers: z.record(z.string(), z.object({ calls: count, successes: count, failures: count, circuit: ZCircuitState })),
});
export type TInstanceMetrics = z.infer<typeof ZInstanceMetrics>;

/**
 * Besides `ai: {<provider>: …}`, each provider is also found under the flat key
 * `"ai.<provider>"` (same object): the shape existing dashboards already read.
 */
export const ZMetricsSummary = z.looseObject({
  generatedAt: z.string(),
  /** Start of the oldest instance whose figures are included. */
  since: z.string(),
  /** One entry per provider: every active one, plus any inactive one that was called. */
  ai: z.record(z.string(), ZProviderMetrics),
  upstream: ZUpstreamTotals,
  /** Gateway requests (chat.*, consensus.*, /v1/*) finished, and those that ended in an error. */
  requests: z.object({ total: count, errors: count }),
  /** Gateway requests finished in the last 60 seconds, cluster-wide. */
  requestsPerMinute: count,
  /** Gateway request errors by code (TOO_MANY_REQUESTS, EMERGENCY_STOP, UPSTREAM_ERROR…). */
  errorsByCode: z.record(z.string(), count),
  /** Open gateway streams (chat.stream, consensus.stream, /v1 SSE) on live instances. */
  activeStreams: count,
  /** Time spent in Switchboard per gateway request, upstream excluded (ms). */
  overhead: ZLatencySummary,
  /**
   * Gateway requests that used the response cache (asked, or their route's default), by what
   * it did: answered from it (hits, no provider called), a provider answered (misses), or a
   * provider answered because the request said so (refreshes); hitRate is hits of all three, %;
   * savedUsd, what the hits' answers would have cost from a provider at their routes' prices.
   * Counted for requests that were answered. (An instance of an older version answers without it.)
   */
  cache: z.object({ hits: count, misses: count, refreshes: count, hitRate: z.number(), savedUsd: z.number() }),
  emergency: ZEmergencyStatus,
  liveInstances: count,
  instances: z.array(ZInstanceMetrics),
  /** True when coordination could not be read: the figures are this instance's only. */
  partial: z.boolean(),
});
export type TMetricsSummary = z.infer<typeof ZMetricsSummary>;

/** Per-minute buckets are kept this long (PostgreSQL); older ranges are refused with 400. */
export const METRICS_RETENTION_HOURS = 24;

const ZInstant = z
  .union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()], {
    error: "Expected an ISO 8601 date-time or epoch milliseconds",
  })
  .transform((v) => new Date(v));

export const ZMetricsTimeseriesInput = z
  .object({
    /** Default: the start of the kept window (24 h ago). */
    from: ZInstant.optional(),
    /** Default: now. */
    to: ZInstant.optional(),
  })
  .optional();
export type TMetricsTimeseriesInput = z.input<typeof ZMetricsTimeseriesInput>;

export const ZProviderMinute = z.object({ calls: count, successes: count, failures: count, avgLatencyMs: amount });

export const ZMetricsBucket = z.object({
  /** Start of the minute (UTC, ISO). */
  minute: z.string(),
  requests: count,
  errors: count,
  calls: count,
  successes: count,
  failures: count,
  avgLatencyMs: amount,
  p95LatencyMs: amount,
  promptTokens: count,
  completionTokens: count,
  providers: z.record(z.string(), ZProviderMinute),
});
export type TMetricsBucket = z.infer<typeof ZMetricsBucket>;

export const ZMetricsTimeseries = z.object({
  from: z.string(),
  to: z.string(),
  bucketSeconds: z.literal(60),
  retentionHours: z.number(),
  /** Every minute of [from, to], oldest first; minutes without traffic are zeros. */
  buckets: z.array(ZMetricsBucket),
});
export type TMetricsTimeseries = z.infer<typeof ZMetricsTimeseries>;
