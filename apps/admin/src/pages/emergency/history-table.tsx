import type { TEmergencyEvent, TEmergencyStatus } from "@switchboard/schema";
import { useId } from "react";
import { LoadMore } from "../../components/load-more.tsx";
import { scopeLabel } from "../../lib/emergency-status.ts";
import { messageOf } from "../../lib/errors.ts";
import { formatDateTime } from "../../lib/format.ts";
import { useEmergencyHistory } from "./emergency-data.ts";

const ACTION_LABELS: Record<TEmergencyEvent["action"], string> = { freeze: "Freeze", unfreeze: "Unfreeze", expire: "Expired" };

/** ADMIN and up; it keeps answering during a global freeze (read-only observability). */
export function HistoryTable({ status }: { status: TEmergencyStatus | null }) {
  const heading = useId();
  const history = useEmergencyHistory(status !== null, status?.version);
  const events = history.data?.pages.flatMap((page) => page.items) ?? [];

  return (
    <section className="card card-flush" aria-labelledby={heading}>
      <div className="table-toolbar">
        <h2 id={heading}>Audit trail</h2>
      </div>
      {history.isError ? (
        <p className="alert alert-error table-message" role="alert">{messageOf(history.error)}</p>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-labelledby={heading} aria-busy={history.isFetching || undefined}>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Scope</th>
                <th scope="col">Reason</th>
                <th scope="col">By</th>
                <th scope="col">Acks</th>
                <th scope="col">Instance</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td className="cell-date">{formatDateTime(e.createdAt)}</td>
                  <td><span className={`badge ${e.action === "freeze" ? "badge-bad" : "badge-ok"}`}>{ACTION_LABELS[e.action]}</span></td>
                  <td>{scopeLabel(e.scope)}</td>
                  <td className="cell-reason">{e.reason ?? <span className="muted">—</span>}</td>
                  <td>{e.actorEmail ?? <span className="muted">automatic</span>}</td>
                  <td>{e.acks ?? "—"}</td>
                  <td><code title={e.instanceId}>{e.instanceId.slice(0, 8)}</code></td>
                </tr>
              ))}
              {history.isPending ? (
                <tr><td colSpan={7} className="table-empty">Loading…</td></tr>
              ) : events.length === 0 ? (
                <tr><td colSpan={7} className="table-empty">No freeze has ever been recorded.</td></tr>
              ) : null}
            </tbody>
          </table>
        </div>
      )}
      {history.isError ? null : <LoadMore query={history} />}
    </section>
  );
}
