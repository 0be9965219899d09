import type { TConfigHistoryEntry } from "@switchboard/schema";
import type { Column } from "../../components/data-table.tsx";
import { HistoryCard } from "../../components/history-card.tsx";
import { timeAgo } from "../../lib/relative-time.ts";
import { useConfigHistory } from "./providers-data.ts";

interface AuditedTarget {
  provider?: unknown;
  upstreamModel?: unknown;
  weight?: unknown;
}

/** One field's value as set: a route's targets in fallback order, "none" for a cleared one. */
function valueText(field: string, value: unknown): string {
  if (field === "targets" && Array.isArray(value)) {
    return (value as AuditedTarget[]).map((t) => `${String(t.provider)}/${String(t.upstreamModel)}${typeof t.weight === "number" ? ` ×${t.weight}` : ""}`).join(" → ");
  }
  if (value === null) return "none";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A change's fields in one line: values as set, a secret only as "set"/"removed". */
function changesText(changes: Record<string, unknown>): string {
  const parts = Object.entries(changes).map(([field, value]) => `${field}: ${valueText(field, value)}`);
  return parts.length > 0 ? parts.join("; ") : "—";
}

const COLUMNS: readonly Column<TConfigHistoryEntry>[] = [
  { id: "version", header: "Version", align: "right", cell: (e) => `v${e.version}` },
  { id: "when", header: "When", cell: (e) => <time dateTime={e.createdAt} title={e.createdAt}>{timeAgo(e.createdAt)}</time> },
  { id: "change", header: "Change", cell: (e) => (<><code>{e.action}</code> <strong>{e.target}</strong></>) },
  {
    id: "who",
    header: "By",
    cell: (e) => (
      <>
        {e.actorEmail ?? "the environment"}
        {e.actorKeyId ? <span className="muted"> with key {e.actorKeyName ? `“${e.actorKeyName}”` : e.actorKeyId}</span> : null}
      </>
    ),
  },
  { id: "fields", header: "Fields", secondary: true, className: "cell-wrap", cell: (e) => changesText(e.changes) },
];

/** Who changed which provider or route, when, and with which API key: the configuration's audit. */
export function ConfigHistoryCard() {
  const history = useConfigHistory();
  return <HistoryCard title="Change history" query={history} columns={COLUMNS} rowKey={(e) => e.id} empty="No changes recorded." testId="config-history" />;
}
