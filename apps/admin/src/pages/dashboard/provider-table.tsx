import type { TMetricsSummary, TProviderMetrics } from "@switchboard/schema";
import { useProviders } from "../providers/providers-data.ts";
import { formatCount, formatMs, formatPercent } from "./metrics-data.ts";

const CIRCUIT_BADGE: Record<TProviderMetrics["circuit"], { className: string; label: string }> = {
  closed: { className: "badge-ok", label: "Closed" },
  half_open: { className: "badge-warn", label: "Half-open" },
  open: { className: "badge-bad", label: "Open" },
};

function rateClass(p: TProviderMetrics): string {
  if (p.calls === 0) return "";
  return p.successRate >= 99 ? "rate-good" : p.successRate >= 90 ? "rate-fair" : "rate-poor";
}

/** ai.<provider>, one row each, in chain order. */
export function ProviderTable({ summary }: { summary: TMetricsSummary }) {
  const rows = Object.entries(summary.ai);
  // Background probe results (the dashboard is for ADMIN and above, who may read providers).
  const health = new Map((useProviders().data?.items ?? []).map((p) => [p.name, p.health]));
  return (
    <section className="card card-flush" aria-labelledby="providers-heading">
      <div className="card-head">
        <h2 id="providers-heading">Providers</h2>
        <span className="muted">Since {new Date(summary.since).toLocaleString("en-GB", { hour12: false })} · latency of every call</span>
      </div>
      <div className="table-wrap">
        <table className="table providers-table">
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Circuit</th>
              <th scope="col">Health</th>
              <th scope="col" className="num">Calls</th>
              <th scope="col" className="num">Success</th>
              <th scope="col" className="num">p50</th>
              <th scope="col" className="num">p95</th>
              <th scope="col" className="num">p99</th>
              <th scope="col" className="num">Avg</th>
              <th scope="col" className="num">TTFT p50</th>
              <th scope="col" className="num">Tokens in / out</th>
              <th scope="col" className="num">Fallbacks</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([id, p]) => (
              <tr key={id} data-testid={`provider-${id}`}>
                <th scope="row" className="cell-provider">
                  {id}
                  {!p.active ? <span className="badge badge-muted badge-inline">inactive</span> : null}
                </th>
                <td><span className={`badge ${CIRCUIT_BADGE[p.circuit].className}`}>{CIRCUIT_BADGE[p.circuit].label}</span></td>
                <td data-testid="health">
                  {(() => {
                    const h = health.get(id);
                    if (!h || h.state === "unknown") return <span className="badge badge-muted">—</span>;
                    return (
                      <span className={`badge ${h.state === "reachable" ? "badge-ok" : "badge-bad"}`} title={h.lastError ?? undefined}>
                        {h.state === "reachable" ? `Up${h.latencyMs !== null ? ` · ${h.latencyMs} ms` : ""}` : "Down"}
                      </span>
                    );
                  })()}
                </td>
                <td className="num" data-testid="calls">{formatCount(p.calls)}</td>
                <td className={`num ${rateClass(p)}`} data-testid="success-rate">{formatPercent(p.calls, p.successRate)}</td>
                <td className="num">{formatMs(p.p50)}</td>
                <td className="num" data-testid="p95">{formatMs(p.p95)}</td>
                <td className="num">{formatMs(p.p99)}</td>
                <td className="num">{p.calls === 0 ? "—" : formatMs(p.avgTime * 1000)}</td>
                <td className="num">{formatMs(p.ttftP50)}</td>
                <td className="num">{formatCount(p.promptTokens)} / {formatCount(p.completionTokens)}</td>
                <td className="num">{formatCount(p.fallbacksFrom)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
