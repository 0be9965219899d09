/**
 * The Prometheus instruments behind GET /metrics (names are a contract: docs/metrics.md).
 * Per instance, as Prometheus expects: it scrapes every instance and sums with PromQL.
 * Every label value comes from a closed set (provider ids, outcomes, route patterns,
 * procedure names, status codes, error codes); nothing a caller typed, no user, no model
 * name, no URL ever becomes a label.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { CacheResult } from "../../infra/request-scope.ts";
import type { ProviderCallRecord } from "../gateway/chain-types.ts";
import type { CircuitView } from "./snapshot.ts";
import { effectiveCircuit } from "./summary.ts";

/** Upstream latencies: from a fast local model to a long completion (seconds). */
const CALL_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];
/** Switchboard's own time per request: sub-millisecond to a slow database (seconds). */
const OVERHEAD_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const CIRCUIT_STATES = ["closed", "half_open", "open"] as const;

export interface PrometheusSources {
  version: string;
  circuits: () => Record<string, CircuitView>;
  providers: () => string[];
  activeStreams: () => number;
  emergencyActive: () => boolean;
  /** Background probe results per provider (reachable, last probe latency). */
  health?: () => Record<string, { state: "unknown" | "reachable" | "unreachable"; latencyMs: number | null }>;
}

/** The protocol a gateway request spoke: tRPC (over HTTP or its WebSocket), the OpenAI dialect, or /ws/chat. */
export type Surface = "trpc" | "openai" | "ws";

export type PrometheusMetrics = ReturnType<typeof createPrometheusMetrics>;

export function createPrometheusMetrics(registry: Registry, sources: PrometheusSources) {
  const registers = [registry];
  const calls = new Counter({ name: "switchboard_provider_calls_total", help: "Upstream provider calls by outcome.", labelNames: ["provider", "mode", "outcome"] as const, registers });
  const callDuration = new Histogram({
    name: "switchboard_provider_call_duration_seconds",
    help: "Upstream call latency; result is success, failure or aborted.",
    labelNames: ["provider", "result"] as const,
    buckets: CALL_BUCKETS,
    registers,
  });
  const ttft = new Histogram({ name: "switchboard_provider_ttft_seconds", help: "Time to first token of successful streamed calls.", labelNames: ["provider"] as const, buckets: CALL_BUCKETS, registers });
  const tokens = new Counter({ name: "switchboard_provider_tokens_total", help: "Tokens of successful calls (estimated when upstream did not report usage).", labelNames: ["provider", "type"] as const, registers });
  const spend = new Counter({
    name: "switchboard_provider_spend_usd_total",
    help: "USD that calls cost at their routes' prices (the request log's costUsd, by the provider that was called; unpriced calls add nothing).",
    labelNames: ["provider"] as const,
    registers,
    // Each provider's series from the first scrape, at 0: increase() then counts its first spend too.
    collect() {
      for (const provider of sources.providers()) this.inc({ provider }, 0);
    },
  });
  const cacheRequests = new Counter({
    name: "switchboard_response_cache_requests_total",
    help: "Gateway requests that used the response cache (asked, or their route's default), by result: hit (answered from it), miss (a provider answered), refresh (a provider answered because the request said so).",
    labelNames: ["result"] as const,
    registers,
  });
  const cacheSaved = new Counter({
    name: "switchboard_response_cache_saved_usd_total",
    help: "USD that cache hits' answers would have cost from a provider, at the prices their calls would have been billed at.",
    registers,
  });
  const fallbacks = new Counter({ name: "switchboard_provider_fallbacks_total", help: "Failed calls after which the request moved on to another provider.", labelNames: ["provider"] as const, registers });
  new Gauge({
    name: "switchboard_provider_circuit_state",
    help: "Circuit breaker state on this instance: 1 for the current state, 0 otherwise.",
    labelNames: ["provider", "state"] as const,
    registers,
    collect() {
      const now = Date.now();
      const circuits = sources.circuits();
      for (const provider of sources.providers()) {
        const current = effectiveCircuit(circuits[provider], now);
        for (const state of CIRCUIT_STATES) this.set({ provider, state }, state === current ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "switchboard_provider_reachable",
    help: "Background health probe: 1 when the provider's last probe got an HTTP answer, 0 when not, absent before the first probe.",
    labelNames: ["provider"] as const,
    registers,
    collect() {
      this.reset();
      for (const [provider, h] of Object.entries(sources.health?.() ?? {})) if (h.state !== "unknown") this.set({ provider }, h.state === "reachable" ? 1 : 0);
    },
  });
  new Gauge({
    name: "switchboard_provider_probe_latency_ms",
    help: "Latency of the provider's last successful health probe, ms.",
    labelNames: ["provider"] as const,
    registers,
    collect() {
      this.reset();
      for (const [provider, h] of Object.entries(sources.health?.() ?? {})) if (h.latencyMs !== null) this.set({ provider }, h.latencyMs);
    },
  });
  const httpRequests = new Counter({ name: "switchboard_http_requests_total", help: "HTTP requests by route pattern and status.", labelNames: ["method", "route", "status"] as const, registers });
  const httpDuration = new Histogram({ name: "switchboard_http_request_duration_seconds", help: "HTTP request duration by route pattern (streams: until the stream ends).", labelNames: ["method", "route"] as const, buckets: HTTP_BUCKETS, registers });
  const gatewayRequests = new Counter({
    name: "switchboard_gateway_requests_total",
    help: "Gateway requests (chat.*, consensus.*, /v1/*); outcome is success, client_closed or the error code.",
    labelNames: ["surface", "outcome"] as const,
    registers,
  });
  const overhead = new Histogram({ name: "switchboard_gateway_overhead_seconds", help: "Time spent in Switchboard per gateway request, upstream excluded (streams: before the first upstream call).", labelNames: ["surface"] as const, buckets: OVERHEAD_BUCKETS, registers });
  new Gauge({ name: "switchboard_gateway_active_streams", help: "Open gateway streams on this instance.", registers, collect() { this.set(sources.activeStreams()); } });
  const procedures = new Counter({ name: "switchboard_trpc_calls_total", help: "tRPC procedure calls by result code (OK or the tRPC error code).", labelNames: ["procedure", "type", "code"] as const, registers });
  new Gauge({ name: "switchboard_emergency_active", help: "1 while this instance applies an emergency freeze.", registers, collect() { this.set(sources.emergencyActive() ? 1 : 0); } });
  const flushFailures = new Counter({ name: "switchboard_metrics_flush_failures_total", help: "Background metric flushes that failed, by target.", labelNames: ["target"] as const, registers });
  new Gauge({ name: "switchboard_build_info", help: "Always 1; the version label says what runs.", labelNames: ["version"] as const, registers }).set({ version: sources.version }, 1);

  return {
    call(record: ProviderCallRecord, fallbackFrom: string | undefined): void {
      const result = record.outcome === "success" ? "success" : record.outcome === "aborted" ? "aborted" : "failure";
      calls.inc({ provider: record.provider, mode: record.mode, outcome: record.outcome });
      callDuration.observe({ provider: record.provider, result }, record.latencyMs / 1000);
      if (record.outcome === "success") {
        if (record.ttftMs !== undefined) ttft.observe({ provider: record.provider }, record.ttftMs / 1000);
        tokens.inc({ provider: record.provider, type: "prompt" }, record.promptTokens ?? 0);
        tokens.inc({ provider: record.provider, type: "completion" }, record.completionTokens ?? 0);
      }
      if (fallbackFrom !== undefined) fallbacks.inc({ provider: fallbackFrom });
    },
    spend(provider: string, usd: number): void {
      spend.inc({ provider }, usd);
    },
    http(method: string, route: string, status: number, durationMs: number): void {
      httpRequests.inc({ method, route, status: String(status) });
      httpDuration.observe({ method, route }, durationMs / 1000);
    },
    gateway(surface: Surface, outcome: string, overheadMs: number | undefined, cache: { result: CacheResult | undefined; savedUsd: number | undefined }): void {
      gatewayRequests.inc({ surface, outcome });
      if (overheadMs !== undefined) overhead.observe({ surface }, overheadMs / 1000);
      if (cache.result !== undefined) cacheRequests.inc({ result: cache.result });
      if (cache.savedUsd) cacheSaved.inc(cache.savedUsd);
    },
    procedure(procedure: string, type: string, code: string): void {
      procedures.inc({ procedure, type, code });
    },
    flushFailed(target: "coordination" | "database"): void {
      flushFailures.inc({ target });
    },
  };
}
