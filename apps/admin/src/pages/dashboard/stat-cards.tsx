import type { ReactNode } from "react";
import type { TMetricsSummary } from "@switchboard/schema";
import { scopeLabel } from "../../lib/emergency-status.ts";
import { usd } from "../usage-data.ts";
import { formatCount, formatMs, formatPercent, type LiveSample } from "./metrics-data.ts";
import { Sparkline } from "./time-chart.tsx";

function Stat({ label, value, detail, testId, children }: { label: string; value: string; detail?: string; testId: string; children?: ReactNode }) {
  return (
    <div className="stat" data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {detail ? <div className="stat-detail">{detail}</div> : null}
      {children}
    </div>
  );
}

/** The fleet at a glance: traffic, health, latency, streams, the response cache, instances and the emergency state. */
export function StatCards({ summary, samples }: { summary: TMetricsSummary; samples: LiveSample[] }) {
  const up = summary.upstream;
  // An instance of an older version answers without it (a fleet mid-upgrade).
  const cache = (summary.cache as TMetricsSummary["cache"] | undefined) ?? { hits: 0, misses: 0, refreshes: 0, hitRate: 0, savedUsd: 0 };
  const usedCache = cache.hits + cache.misses + cache.refreshes;
  const frozen = summary.emergency.active;
  return (
    <section className="stats" aria-label="Fleet figures">
      <Stat label="Requests / min" value={formatCount(summary.requestsPerMinute)} detail={`${formatCount(summary.requests.total)} in total`} testId="stat-rpm">
        <Sparkline values={samples.map((s) => s.requestsPerMinute)} color="#2b6fe0" label="Requests per minute, live" />
      </Stat>
      <Stat label="Upstream success" value={formatPercent(up.calls, up.successRate)} detail={`${formatCount(up.calls)} calls, ${formatCount(up.failures)} failed`} testId="stat-success" />
      <Stat label="Upstream p95" value={formatMs(up.p95)} detail={`p50 ${formatMs(up.p50)} · p99 ${formatMs(up.p99)}`} testId="stat-latency">
        <Sparkline values={samples.map((s) => s.p95)} color="#7c5cc4" label="Upstream p95 latency, live" />
      </Stat>
      <Stat label="Errors" value={formatCount(summary.requests.errors)} detail={topErrors(summary)} testId="stat-errors">
        <Sparkline values={samples.map((s) => s.errors)} color="#e5484d" label="Gateway errors, live" />
      </Stat>
      <Stat label="Active streams" value={formatCount(summary.activeStreams)} detail={`overhead p50 ${formatMs(summary.overhead.p50)}`} testId="stat-streams">
        <Sparkline values={samples.map((s) => s.activeStreams)} color="#157347" label="Active streams, live" />
      </Stat>
      <Stat
        label="Cache hits"
        value={formatPercent(usedCache, cache.hitRate)}
        detail={usedCache === 0 ? "response cache not used yet" : `${formatCount(cache.hits)} of ${formatCount(usedCache)} answered without a provider${cache.savedUsd > 0 ? ` · ≈ ${usd(cache.savedUsd)} saved` : ""}${cache.refreshes > 0 ? ` · ${formatCount(cache.refreshes)} refreshed` : ""}`}
        testId="stat-cache"
      />
      <Stat label="Instances" value={`${summary.liveInstances} live`} detail={summary.partial ? "coordination unreachable: this instance only" : `${summary.instances.length} reporting`} testId="stat-instances" />
      <div className={`stat ${frozen ? "stat-frozen" : ""}`} data-testid="stat-emergency">
        <div className="stat-label">Emergency stop</div>
        <div className="stat-value">{frozen ? "Frozen" : "Normal"}</div>
        <div className="stat-detail">{frozen ? `${scopeLabel(summary.emergency.scope)}: ${summary.emergency.reason ?? ""}` : "Serving traffic"}</div>
      </div>
    </section>
  );
}

function topErrors(summary: TMetricsSummary): string {
  const top = Object.entries(summary.errorsByCode).sort((a, b) => b[1] - a[1]).slice(0, 2);
  return top.length === 0 ? "none" : top.map(([code, n]) => `${code} ${n}`).join(" · ");
}
