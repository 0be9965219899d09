import type { TUser } from "@switchboard/schema";
import { useQuery } from "@tanstack/react-query";
import { PageHeader } from "../components/page-header.tsx";
import { messageOf } from "../lib/errors.ts";
import { formatDateTime, formatDuration } from "../lib/format.ts";
import { roleAtLeast } from "../lib/roles.ts";
import { useCurrentUser } from "../lib/session.tsx";
import { trpc } from "../lib/trpc.ts";
import { InstancesCard } from "./dashboard/instances-card.tsx";
import { TIMESERIES_MINUTES, useLiveMetrics, useTimeseries } from "./dashboard/metrics-data.ts";
import { ProviderTable } from "./dashboard/provider-table.tsx";
import { StatCards } from "./dashboard/stat-cards.tsx";
import { TrafficCharts } from "./dashboard/traffic-charts.tsx";
import "./dashboard/dashboard.css";
import { SpendByDay, TopSpend } from "./spend/spend-panels.tsx";

/** The admin home: live fleet metrics for admins, the API's health for everyone. */
export function DashboardPage() {
  const user = useCurrentUser();
  const isAdmin = roleAtLeast(user.role, "ADMIN");
  return (
    <>
      <PageHeader title="Dashboard" description={isAdmin ? "Live figures from every instance of the fleet." : `Signed in as ${user.email}.`} />
      {isAdmin ? <FleetMetrics /> : <UserHome user={user} />}
    </>
  );
}

function FleetMetrics() {
  const live = useLiveMetrics(true);
  const series = useTimeseries(true);
  const summary = live.summary;

  if (!summary) {
    if (live.error) return <p className="alert alert-error" role="alert">{messageOf(live.error)}</p>;
    return <p className="muted" aria-busy="true">Loading metrics…</p>;
  }
  return (
    <div className="dashboard">
      <div className="live-state" aria-live="polite">
        <span className={`dot ${live.connected ? "dot-ok" : "dot-bad"}`} aria-hidden="true" />
        {live.connected ? "Live" : "Reconnecting…"} · updated {new Date(summary.generatedAt).toLocaleTimeString("en-GB", { hour12: false })}
      </div>
      <StatCards summary={summary} samples={live.samples} />
      <ProviderTable summary={summary} />
      {series.data ? (
        <TrafficCharts series={series.data} />
      ) : series.isError ? (
        <p className="alert alert-error" role="alert">{messageOf(series.error)}</p>
      ) : (
        <p className="muted">Loading the last {TIMESERIES_MINUTES} minutes…</p>
      )}
      <InstancesCard summary={summary} />
      <SpendByDay days={14} />
      <div className="spend-tops">
        <TopSpend groupBy="key" title="Top API keys by spend" limit={5} />
        <TopSpend groupBy="model" title="Top models by spend" limit={5} />
      </div>
    </div>
  );
}

function UserHome({ user }: { user: TUser }) {
  const health = useQuery({ queryKey: ["health"], queryFn: () => trpc.health.check.query(), refetchInterval: 30_000 });
  return (
    <div className="grid">
      <section className="card" aria-labelledby="service-heading">
        <h2 id="service-heading">API server</h2>
        {health.data ? (
          <dl className="facts">
            <div><dt>Status</dt><dd><span className="badge badge-ok">{health.data.status}</span></dd></div>
            <div><dt>Version</dt><dd>{health.data.version}</dd></div>
            <div><dt>Environment</dt><dd>{health.data.environment}</dd></div>
            <div><dt>Uptime</dt><dd>{formatDuration(health.data.uptime)}</dd></div>
            <div><dt>Checked</dt><dd>{formatDateTime(health.data.timestamp)}</dd></div>
          </dl>
        ) : health.isError ? (
          <p className="alert alert-error" role="alert">{messageOf(health.error)}</p>
        ) : (
          <p className="muted">Checking…</p>
        )}
      </section>
      <section className="card" aria-labelledby="metrics-heading">
        <h2 id="metrics-heading">Fleet metrics</h2>
        <p className="muted">Provider health, latency and traffic are shown to admins. Ask an admin if you need them ({user.email} is a {user.role.toLowerCase()}).</p>
      </section>
    </div>
  );
}
