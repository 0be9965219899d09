import type { TEmergencyEvent, TEmergencyStatus } from "@switchboard/schema";
import type { Column } from "../../components/data-table.tsx";
import { HistoryCard } from "../../components/history-card.tsx";
import { scopeLabel } from "../../lib/emergency-status.ts";
import { formatDateTime } from "../../lib/format.ts";
import { useEmergencyHistory } from "./emergency-data.ts";

const ACTION_LABELS: Record<TEmergencyEvent["action"], string> = { freeze: "Freeze", unfreeze: "Unfreeze", expire: "Expired" };

const COLUMNS: readonly Column<TEmergencyEvent>[] = [
  { id: "when", header: "When", className: "cell-date", cell: (e) => formatDateTime(e.createdAt) },
  { id: "action", header: "Action", cell: (e) => <span className={`badge ${e.action === "freeze" ? "badge-bad" : "badge-ok"}`}>{ACTION_LABELS[e.action]}</span> },
  { id: "scope", header: "Scope", cell: (e) => scopeLabel(e.scope) },
  { id: "reason", header: "Reason", className: "cell-wrap cell-reason", cell: (e) => e.reason ?? <span className="muted">—</span> },
  { id: "by", header: "By", cell: (e) => e.actorEmail ?? <span className="muted">automatic</span> },
  { id: "acks", header: "Acks", align: "right", cell: (e) => e.acks ?? "—" },
  { id: "instance", header: "Instance", secondary: true, cell: (e) => <code title={e.instanceId}>{e.instanceId.slice(0, 8)}</code> },
];

/** ADMIN and up; it keeps answering during a global freeze (read-only observability). */
export function HistoryTable({ status }: { status: TEmergencyStatus | null }) {
  const history = useEmergencyHistory(status !== null, status?.version);
  return <HistoryCard title="Audit trail" query={history} columns={COLUMNS} rowKey={(e) => e.id} empty="No freeze has ever been recorded." />;
}
