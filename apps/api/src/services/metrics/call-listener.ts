/**
 * Subscribes metrics and logs to the provider chain's call records (one per upstream call,
 * chat and consensus alike). Runs synchronously inside the chain, so it stays allocation-light
 * and never throws (the chain swallows listener errors anyway).
 */
import type { Logger } from "pino";
import { noteUpstreamCall } from "../../infra/request-scope.ts";
import type { ProviderChain } from "../gateway/provider-chain.ts";
import type { MetricsService } from "./metrics-service.ts";

export function observeProviderCalls(chain: ProviderChain, metrics: MetricsService, log: Logger): () => void {
  return chain.onCall((record) => {
    const fallbackFrom = noteUpstreamCall(record.scope, record);
    metrics.recordCall(record, fallbackFrom);
    // Failures are worth a line of their own; successes are in the request's access line.
    const level = record.outcome === "success" || record.outcome === "aborted" ? "debug" : "info";
    if (!log.isLevelEnabled(level)) return;
    log[level](
      {
        reqId: record.scope?.requestId,
        provider: record.provider,
        model: record.model,
        mode: record.mode,
        outcome: record.outcome,
        latencyMs: record.latencyMs,
        ...(record.ttftMs !== undefined ? { ttftMs: record.ttftMs } : {}),
        ...(record.status !== undefined ? { status: record.status } : {}),
        ...(record.error !== undefined ? { error: record.error } : {}),
        fallback: record.fallback,
      },
      "provider call",
    );
  });
}
