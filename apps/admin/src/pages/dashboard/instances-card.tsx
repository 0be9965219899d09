import type { TMetricsSummary } from "@switchboard/schema";
import { formatDateTime } from "../../lib/format.ts";
import { formatCount } from "./metrics-data.ts";

/** The per-instance breakdown. A dead instance stays listed (its figures are in the totals). */
export function InstancesCard({ summary }: { summary: TMetricsSummary }) {
  return (
    <section className="card card-flush" aria-labelledby="instances-heading">
      <div className="card-head">
        <h2 id="instances-heading">Instances</h2>
        <span className="muted">{summary.liveInstances} live</span>
      </div>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">State</th>
              <th scope="col">Host</th>
              <th scope="col">Started</th>
              <th scope="col" className="num">Requests</th>
              <th scope="col" className="num">Req / min</th>
              <th scope="col" className="num">Calls</th>
              <th scope="col" className="num">Streams</th>
            </tr>
          </thead>
          <tbody>
            {summary.instances.map((i) => (
              <tr key={i.id} data-testid="instance-row">
                <td className="cell-mono" title={i.id}>{i.id.slice(0, 8)}</td>
                <td>{i.live ? <span className="badge badge-ok">Live</span> : <span className="badge badge-muted">Gone</span>}</td>
                <td>{i.host}{i.pid ? <span className="muted"> · pid {i.pid}</span> : null}</td>
                <td className="cell-date">{formatDateTime(i.startedAt)}</td>
                <td className="num">{formatCount(i.requests)}</td>
                <td className="num">{formatCount(i.requestsPerMinute)}</td>
                <td className="num">{formatCount(i.calls)}</td>
                <td className="num">{formatCount(i.activeStreams)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
