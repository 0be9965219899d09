import type { TMetricsTimeseries } from "@switchboard/schema";
import { formatCount, formatMs } from "./metrics-data.ts";
import { TimeChart } from "./time-chart.tsx";

const minuteLabel = (iso: string) => new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false });

/** Requests, latency and errors per minute (PostgreSQL buckets, cluster-wide). */
export function TrafficCharts({ series }: { series: TMetricsTimeseries }) {
  const points = series.buckets;
  const labels = points.map((p) => minuteLabel(p.minute));
  return (
    <section className="charts" aria-label="Traffic over time">
      <TimeChart
        title="Requests per minute"
        kind="bars"
        labels={labels}
        format={(v) => formatCount(Math.round(v))}
        series={[
          { name: "Gateway requests", color: "#2b6fe0", values: points.map((p) => p.requests) },
          { name: "Upstream calls", color: "#9db8ec", values: points.map((p) => p.calls) },
        ]}
      />
      <TimeChart
        title="Upstream latency"
        kind="lines"
        labels={labels}
        format={(v) => (v === 0 ? "0" : formatMs(v))}
        series={[
          // A minute without calls has no latency: a gap, not a zero.
          { name: "Average", color: "#7c5cc4", values: points.map((p) => (p.calls > 0 ? p.avgLatencyMs : null)) },
          { name: "p95", color: "#e08a2b", values: points.map((p) => (p.calls > 0 ? p.p95LatencyMs : null)) },
        ]}
      />
      <TimeChart
        title="Errors per minute"
        kind="bars"
        labels={labels}
        format={(v) => formatCount(Math.round(v))}
        series={[
          { name: "Gateway errors", color: "#e5484d", values: points.map((p) => p.errors) },
          { name: "Failed upstream calls", color: "#f2a7a9", values: points.map((p) => p.failures) },
        ]}
      />
    </section>
  );
}
