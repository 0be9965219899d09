/**
 * The cluster view, from instance snapshots. Counters (calls, tokens, requests, errors) sum
 * over every snapshot, live or last-known, so an instance that dies keeps its share of the
 * totals. Gauges (active streams, circuit state) only count live instances: a dead
 * instance holds no stream and trips no breaker.
 */
import type { TCircuitState, TEmergencyStatus, TInstanceMetrics, TMetricsSummary, TProviderMetrics } from "@switchboard/schema";
import type { InstanceInfo } from "../../infra/coordination/port.ts";
import { mergeSketches } from "./sketch.ts";
import type { CircuitView, InstanceSnapshot, ProviderTotals } from "./snapshot.ts";

export interface SummaryInputs {
  snapshots: InstanceSnapshot[];
  live: InstanceInfo[];
  activeProviders: string[];
  emergency: TEmergencyStatus;
  partial: boolean;
  now: number;
}

const SEVERITY: Record<TCircuitState, number> = { closed: 0, half_open: 1, open: 2 };
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** An open circuit whose cooldown ended lets the next call probe it. */
export function effectiveCircuit(view: CircuitView | undefined, now: number): TCircuitState {
  if (!view) return "closed";
  return view.state === "open" && view.retryAt !== null && view.retryAt <= now ? "half_open" : view.state;
}

function perMinute(snapshot: InstanceSnapshot, now: number): number {
  const from = Math.floor(now / 1000) - 60;
  return sum(snapshot.recent.filter(([second]) => second > from).map(([, n]) => n));
}

function providerMetrics(parts: ProviderTotals[], circuit: TCircuitState, active: boolean): TProviderMetrics {
  const total = (pick: (t: ProviderTotals) => number) => sum(parts.map(pick));
  const calls = total((t) => t.calls);
  const successes = total((t) => t.successes);
  const failures = total((t) => t.failures);
  const latencyMs = total((t) => t.latencyMs);
  const latency = mergeSketches(parts.map((t) => t.latency));
  const outcomes: Record<string, number> = {};
  for (const t of parts) for (const [k, n] of Object.entries(t.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + n;
  return {
    calls,
    successes,
    failures,
    aborted: total((t) => t.aborted),
    successRate: successes + failures === 0 ? 0 : round((successes / (successes + failures)) * 100, 2),
    totalTime: round(latencyMs / 1000, 3),
    avgTime: calls === 0 ? 0 : round(latencyMs / calls / 1000, 3),
    p50: round(latency.quantile(0.5), 2),
    p95: round(latency.quantile(0.95), 2),
    p99: round(latency.quantile(0.99), 2),
    ttftP50: round(mergeSketches(parts.map((t) => t.ttft)).quantile(0.5), 2),
    promptTokens: total((t) => t.promptTokens),
    completionTokens: total((t) => t.completionTokens),
    fallbacksFrom: total((t) => t.fallbacksFrom),
    circuit,
    active,
    outcomes,
  };
}

function instanceRow(s: InstanceSnapshot, live: boolean, now: number): TInstanceMetrics {
  const providers: TInstanceMetrics["providers"] = {};
  for (const [id, t] of Object.entries(s.providers)) {
    providers[id] = { calls: t.calls, successes: t.successes, failures: t.failures, circuit: live ? effectiveCircuit(s.circuits[id], now) : "closed" };
  }
  const all = Object.values(s.providers);
  return {
    id: s.id,
    host: s.host,
    pid: s.pid,
    version: s.version,
    startedAt: s.startedAt,
    flushedAt: s.flushedAt,
    live,
    requests: s.requests,
    requestsPerMinute: perMinute(s, now),
    errors: s.errors,
    activeStreams: live ? s.activeStreams : 0,
    calls: sum(all.map((t) => t.calls)),
    successes: sum(all.map((t) => t.successes)),
    failures: sum(all.map((t) => t.failures)),
    providers,
  };
}

/** A live instance that has not published yet (it just started): listed with zeros. */
function silentInstance(info: InstanceInfo): TInstanceMetrics {
  const meta = info.meta as { host?: unknown; pid?: unknown; version?: unknown };
  return {
    id: info.id,
    host: typeof meta.host === "string" ? meta.host : "",
    pid: typeof meta.pid === "number" ? meta.pid : 0,
    version: typeof meta.version === "string" ? meta.version : "",
    startedAt: info.startedAt,
    flushedAt: info.lastSeenAt,
    live: true,
    ...{ requests: 0, requestsPerMinute: 0, errors: 0, activeStreams: 0, calls: 0, successes: 0, failures: 0, providers: {} },
  };
}

export function buildSummary(input: SummaryInputs): TMetricsSummary {
  const { snapshots, now } = input;
  const liveIds = new Set(input.live.map((i) => i.id));
  const isLive = (s: InstanceSnapshot) => liveIds.has(s.id);
  const liveSnapshots = snapshots.filter(isLive);

  const providerIds = [...input.activeProviders];
  for (const s of snapshots) for (const [id, t] of Object.entries(s.providers)) if (t.calls > 0 && !providerIds.includes(id)) providerIds.push(id);

  const ai: Record<string, TProviderMetrics> = {};
  for (const id of providerIds) {
    const parts = snapshots.map((s) => s.providers[id]).filter((t): t is ProviderTotals => t !== undefined);
    const circuit = liveSnapshots
      .map((s) => effectiveCircuit(s.circuits[id], now))
      .reduce<TCircuitState>((worst, c) => (SEVERITY[c] > SEVERITY[worst] ? c : worst), "closed");
    ai[id] = providerMetrics(parts, circuit, input.activeProviders.includes(id));
  }

  const allProviders = snapshots.flatMap((s) => Object.values(s.providers));
  const all = providerMetrics(allProviders, "closed", true);

  const errorsByCode: Record<string, number> = {};
  for (const s of snapshots) for (const [code, n] of Object.entries(s.errorsByCode)) errorsByCode[code] = (errorsByCode[code] ?? 0) + n;
  const overhead = mergeSketches(snapshots.map((s) => s.overhead));
  const cached = (result: "hit" | "miss" | "refresh") => sum(snapshots.map((s) => s.cache?.[result] ?? 0));
  const cache = { hits: cached("hit"), misses: cached("miss"), refreshes: cached("refresh") };
  const savedUsd = round(sum(snapshots.map((s) => s.cache?.savedUsd ?? 0)), 6);
  const usedCache = cache.hits + cache.misses + cache.refreshes;

  const rows = snapshots.map((s) => instanceRow(s, isLive(s), now));
  for (const info of input.live) if (!snapshots.some((s) => s.id === info.id)) rows.push(silentInstance(info));
  rows.sort((a, b) => Number(b.live) - Number(a.live) || a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));

  const starts = rows.map((r) => r.startedAt).sort();
  return {
    generatedAt: new Date(now).toISOString(),
    since: starts[0] ?? new Date(now).toISOString(),
    ai,
    upstream: { calls: all.calls, successes: all.successes, failures: all.failures, successRate: all.successRate, p50: all.p50, p95: all.p95, p99: all.p99 },
    requests: { total: sum(snapshots.map((s) => s.requests)), errors: sum(snapshots.map((s) => s.errors)) },
    requestsPerMinute: sum(snapshots.map((s) => perMinute(s, now))),
    errorsByCode,
    activeStreams: sum(liveSnapshots.map((s) => s.activeStreams)),
    overhead: { p50: round(overhead.quantile(0.5), 2), p95: round(overhead.quantile(0.95), 2), p99: round(overhead.quantile(0.99), 2) },
    cache: { ...cache, hitRate: usedCache === 0 ? 0 : round((cache.hits / usedCache) * 100, 2), savedUsd },
    emergency: input.emergency,
    liveInstances: liveIds.size,
    instances: rows,
    partial: input.partial,
    // Legacy flat keys ("ai.deepseek": {...}) for dashboards built on the old metrics endpoint.
    ...Object.fromEntries(Object.entries(ai).map(([id, metrics]) => [`ai.${id}`, metrics])),
  };
}
