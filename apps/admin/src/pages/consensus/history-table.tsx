import { useId } from "react";
import { LoadMore } from "../../components/load-more.tsx";
import { messageOf } from "../../lib/errors.ts";
import { formatDateTime } from "../../lib/format.ts";
import { useConsensusHistory } from "./consensus-data.ts";
import { STRATEGY_INFO } from "./strategy-info.ts";

const STATUS_BADGE = { complete: "badge-ok", failed: "badge-bad", aborted: "badge-muted" } as const;

/** Past runs, newest first (admins see everyone's); a row opens the run above. */
export function HistoryTable({ selectedId, onOpen }: { selectedId: string | null; onOpen: (id: string) => void }) {
  const heading = useId();
  const history = useConsensusHistory();
  const runs = history.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section className="card card-flush" aria-labelledby={heading}>
      <div className="table-toolbar">
        <h2 id={heading}>History</h2>
      </div>
      {history.isError ? (
        <p className="alert alert-error table-message" role="alert">{messageOf(history.error)}</p>
      ) : (
        <div className="table-wrap">
          <table className="table consensus-history" aria-labelledby={heading}>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Prompt</th>
                <th scope="col">Strategy</th>
                <th scope="col">Status</th>
                <th scope="col">Agreement</th>
                <th scope="col">Winner</th>
                <th scope="col">Models</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id} aria-selected={r.id === selectedId || undefined}>
                  <td className="cell-date">{formatDateTime(r.createdAt)}</td>
                  <td className="consensus-history-prompt">
                    <button type="button" className="link-button" onClick={() => onOpen(r.id)} title={r.prompt}>{r.prompt}</button>
                  </td>
                  <td>{STRATEGY_INFO[r.strategy].label}</td>
                  <td><span className={`badge ${STATUS_BADGE[r.status]}`}>{r.status}</span></td>
                  <td>{r.agreement === null ? "—" : `${Math.round(r.agreement * 100)}%`}</td>
                  <td className="consensus-history-winner" title={r.winner ?? undefined}>{r.winner ?? <span className="muted">—</span>}</td>
                  <td>{r.providers.join(", ")}</td>
                </tr>
              ))}
              {history.isPending ? (
                <tr><td colSpan={7} className="table-empty">Loading…</td></tr>
              ) : runs.length === 0 ? (
                <tr><td colSpan={7} className="table-empty">No consensus run yet.</td></tr>
              ) : null}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore query={history} />
    </section>
  );
}
