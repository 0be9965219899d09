import { useQuery } from "@tanstack/react-query";
import { PageHeader } from "../components/layout.tsx";
import { messageOf } from "../lib/errors.ts";
import { formatDateTime, formatDuration } from "../lib/format.ts";
import { useCurrentUser } from "../lib/session.tsx";
import { trpc } from "../lib/trpc.ts";

export function DashboardPage() {
  const user = useCurrentUser();
  const health = useQuery({ queryKey: ["health"], queryFn: () => trpc.health.check.query(), refetchInterval: 30_000 });

  return (
    <>
      <PageHeader title="Dashboard" description={`Signed in as ${user.email}.`} />
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
        <section className="card planned" aria-labelledby="metrics-heading">
          <div className="planned-head">
            <h2 id="metrics-heading">Traffic and providers</h2>
            <span className="badge badge-muted">Coming with the metrics service</span>
          </div>
          <ul className="planned-list">
            <li>Calls, success rate and p50/p95/p99 latency per provider.</li>
            <li>Request volume over time and a live view of traffic.</li>
            <li>Emergency-stop state at a glance.</li>
          </ul>
        </section>
      </div>
    </>
  );
}
