/** metrics.timeseries: range rules and per-minute points from stored buckets (pure). */
import { METRICS_RETENTION_HOURS, type TMetricsBucket, type TMetricsTimeseries } from "@switchboard/schema";
import { AppError } from "../errors.ts";
import type { StoredMinute } from "./bucket-store.ts";
import { GATEWAY_ROW } from "./instance-metrics.ts";
import { mergeSketches } from "./sketch.ts";

export const MINUTE_MS = 60_000;
export const RETENTION_MS = METRICS_RETENTION_HOURS * 60 * 60 * 1000;
/**
 * Clock slack allowed at both ends: a client that computes "24 h ago" a moment before the
 * server reads its clock must not get a 400 for it.
 */
const GRACE_MS = MINUTE_MS;

const floorMinute = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;
const round = (n: number) => Math.round(n * 100) / 100;

/** Validates a requested range against the kept window; returns whole minutes [from, to]. */
export function resolveRange(input: { from?: Date | undefined; to?: Date | undefined } | undefined, now: number): { from: number; to: number } {
  const windowStart = now - RETENTION_MS;
  const to = input?.to?.getTime() ?? now;
  const from = input?.from?.getTime() ?? windowStart;
  if (Number.isNaN(from) || Number.isNaN(to)) throw new AppError("BAD_REQUEST", "from and to must be valid dates");
  const earliest = new Date(windowStart).toISOString();
  if (from < windowStart - GRACE_MS) {
    throw new AppError("BAD_REQUEST", `from is outside the kept window: per-minute metrics are kept for ${METRICS_RETENTION_HOURS} h (earliest ${earliest})`, {
      details: { earliest },
    });
  }
  if (to > now + GRACE_MS) throw new AppError("BAD_REQUEST", "to is in the future");
  if (from > to) throw new AppError("BAD_REQUEST", "from must not be after to");
  return { from: floorMinute(Math.max(from, windowStart)), to: floorMinute(to) };
}

function emptyPoint(minute: number): TMetricsBucket {
  return {
    minute: new Date(minute).toISOString(),
    ...{ requests: 0, errors: 0, calls: 0, successes: 0, failures: 0, avgLatencyMs: 0, p95LatencyMs: 0, promptTokens: 0, completionTokens: 0 },
    providers: {},
  };
}

export function buildTimeseries(range: { from: number; to: number }, stored: StoredMinute[]): TMetricsTimeseries {
  const byMinute = new Map<number, StoredMinute[]>();
  for (const m of stored) {
    const key = m.minute.getTime();
    byMinute.set(key, [...(byMinute.get(key) ?? []), m]);
  }
  const points: TMetricsBucket[] = [];
  for (let minute = range.from; minute <= range.to; minute += MINUTE_MS) {
    const point = emptyPoint(minute);
    const rows = byMinute.get(minute) ?? [];
    let latencyMs = 0;
    for (const row of rows) {
      if (row.provider === GATEWAY_ROW) {
        point.requests += row.calls;
        point.errors += row.failures;
        continue;
      }
      point.calls += row.calls;
      point.successes += row.successes;
      point.failures += row.failures;
      point.promptTokens += row.promptTokens;
      point.completionTokens += row.completionTokens;
      latencyMs += row.latencyMs;
      point.providers[row.provider] = {
        calls: row.calls,
        successes: row.successes,
        failures: row.failures,
        avgLatencyMs: row.calls === 0 ? 0 : round(row.latencyMs / row.calls),
      };
    }
    point.avgLatencyMs = point.calls === 0 ? 0 : round(latencyMs / point.calls);
    point.p95LatencyMs = round(mergeSketches(rows.filter((r) => r.provider !== GATEWAY_ROW).flatMap((r) => r.latencies)).quantile(0.95));
    points.push(point);
  }
  return {
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    bucketSeconds: 60,
    retentionHours: METRICS_RETENTION_HOURS,
    buckets: points,
  };
}
