import type { TConsensusRunSummary } from "@switchboard/schema";
import type { Column } from "../../components/data-table.tsx";
import { HistoryCard } from "../../components/history-card.tsx";
import { formatDateTime } from "../../lib/format.ts";
import { useConsensusHistory } from "./consensus-data.ts";
import { STRATEGY_INFO } from "./strategy-info.ts";

const STATUS_BADGE = { complete: "badge-ok", failed: "badge-bad", aborted: "badge-muted" } as const;

/** The columns; a run's prompt is the button that opens it above. */
function columnsFor(onOpen: (id: string) => void): readonly Column<TConsensusRunSummary>[] {
  return [
    { id: "when", header: "When", className: "cell-date", cell: (r) => formatDateTime(r.createdAt) },
    {
      id: "prompt",
      header: "Prompt",
      className: "consensus-history-prompt",
      cell: (r) => <button type="button" className="link-button" onClick={() => onOpen(r.id)} title={r.prompt}>{r.prompt}</button>,
    },
    { id: "strategy", header: "Strategy", cell: (r) => STRATEGY_INFO[r.strategy].label },
    { id: "status", header: "Status", cell: (r) => <span className={`badge ${STATUS_BADGE[r.status]}`}>{r.status}</span> },
    { id: "agreement", header: "Agreement", align: "right", cell: (r) => (r.agreement === null ? "—" : `${Math.round(r.agreement * 100)}%`) },
    { id: "winner", header: "Winner", className: "consensus-history-winner", cell: (r) => <span title={r.winner ?? undefined}>{r.winner ?? <span className="muted">—</span>}</span> },
    { id: "models", header: "Models", className: "cell-wrap", cell: (r) => r.providers.join(", ") },
  ];
}

/** Past runs, newest first (admins see everyone's); a row opens the run above. */
export function HistoryTable({ selectedId, onOpen }: { selectedId: string | null; onOpen: (id: string) => void }) {
  const history = useConsensusHistory();
  return (
    <HistoryCard
      title="History"
      query={history}
      columns={columnsFor(onOpen)}
      rowKey={(r) => r.id}
      selected={(r) => r.id === selectedId}
      className="consensus-history"
      empty="No consensus run yet."
    />
  );
}
