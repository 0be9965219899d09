import type { TMetricsSummary } from "@switchboard/schema";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { trpc } from "../../lib/trpc.ts";

/** One point of the live view, taken from each metrics.live push (at most one per second). */
export interface LiveSample {
  at: number;
  requestsPerMinute: number;
  p95: number;
  /** Gateway errors since the previous push. */
  errors: number;
  activeStreams: number;
}

/** Five minutes of pushes. */
const MAX_SAMPLES = 300;

export interface LiveMetrics {
  summary: TMetricsSummary | undefined;
  samples: LiveSample[];
  connected: boolean;
  error: unknown;
}

/** A refused subscription (e.g. 503 during a global freeze) is asked again this often. */
const RETRY_MS = 5_000;

/**
 * metrics.live over SSE while the dashboard is open. EventSource reconnects by itself after
 * a network drop; a subscription the server refused is retried every RETRY_MS.
 */
export function useLiveMetrics(enabled: boolean): LiveMetrics {
  const [state, setState] = useState<LiveMetrics>({ summary: undefined, samples: [], connected: false, error: undefined });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!enabled) return;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const subscription = trpc.metrics.live.subscribe(undefined, {
      onData: (summary) =>
        setState((prev) => {
          const previousErrors = prev.summary?.requests.errors ?? summary.requests.errors;
          const sample: LiveSample = {
            at: Date.parse(summary.generatedAt),
            requestsPerMinute: summary.requestsPerMinute,
            p95: summary.upstream.p95,
            errors: Math.max(0, summary.requests.errors - previousErrors),
            activeStreams: summary.activeStreams,
          };
          return { summary, samples: [...prev.samples, sample].slice(-MAX_SAMPLES), connected: true, error: undefined };
        }),
      onConnectionStateChange: (change) => setState((prev) => ({ ...prev, connected: change.state === "pending", error: change.error ?? prev.error })),
      onError: (error) => {
        setState((prev) => ({ ...prev, connected: false, error }));
        retry = setTimeout(() => setAttempt((n) => n + 1), RETRY_MS);
      },
    });
    return () => {
      clearTimeout(retry);
      subscription.unsubscribe();
    };
  }, [enabled, attempt]);
  return state;
}

export const TIMESERIES_MINUTES = 30;

/** Per-minute buckets of the last half hour, refreshed every 10 s. */
export function useTimeseries(enabled: boolean) {
  return useQuery({
    queryKey: ["metrics", "timeseries", TIMESERIES_MINUTES],
    queryFn: () => trpc.metrics.timeseries.query({ from: new Date(Date.now() - (TIMESERIES_MINUTES - 1) * 60_000).toISOString() }),
    refetchInterval: 10_000,
    enabled,
    retry: false,
  });
}

export const formatMs = (ms: number) => (ms === 0 ? "—" : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`);
export const formatCount = (n: number) => new Intl.NumberFormat("en-US", { notation: n >= 100_000 ? "compact" : "standard" }).format(n);
export const formatPercent = (calls: number, rate: number) => (calls === 0 ? "—" : `${rate.toFixed(rate === 100 ? 0 : 2)} %`);
