import type { TCachePurgeRecord } from "@switchboard/schema";
import type { Column } from "../../components/data-table.tsx";
import { HistoryCard } from "../../components/history-card.tsx";
import { formatDateTime } from "../../lib/format.ts";
import { useCachePurges } from "./cache-data.ts";

const COLUMNS: readonly Column<TCachePurgeRecord>[] = [
  // The purge time that holds: answers kept before it are never served again.
  { id: "when", header: "When", className: "cell-date", cell: (p) => <time dateTime={p.purgedAt}>{formatDateTime(p.purgedAt)}</time> },
  {
    id: "whose",
    header: "Whose answers",
    cell: (p) => (p.everyone ? <span className="badge badge-bad">Everyone&apos;s</span> : (p.userEmail ?? <code>{p.userId}</code>)),
  },
  {
    id: "by",
    header: "By",
    cell: (p) => (
      <>
        {p.actorEmail}
        {p.via === "key" ? <span className="muted"> with key {p.actorKeyName ? `“${p.actorKeyName}”` : p.actorKeyId}</span> : null}
      </>
    ),
  },
];

/** Who purged whose cached answers, and when: the record an operator reads after a cost spike (ADMIN). */
export function PurgeHistoryCard() {
  const purges = useCachePurges();
  return <HistoryCard title="Cache purges" query={purges} columns={COLUMNS} rowKey={(p) => p.id} empty="No purge has been recorded." testId="cache-purges" />;
}
