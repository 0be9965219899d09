import type { TConfigHistoryEntry } from "@switchboard/schema";
import { useId } from "react";
import { DataTable, type Column } from "../../components/data-table.tsx";
import { LoadMore } from "../../components/load-more.tsx";
import { messageOf } from "../../lib/errors.ts";
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
  { id: "fields", header: "Fields", secondary: true, cell: (e) => <span className="cell-wrap">{changesText(e.changes)}</span> },
];

/** Who changed which provider or route, when, and with which API key: the configuration's audit. */
export function ConfigHistoryCard() {
  const titleId = useId();
  const history = useConfigHistory();
  const entries = history.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section className="card card-flush" aria-labelledby={titleId}>
      <div className="table-toolbar">
        <h2 id={titleId}>Change history</h2>
      </div>
      {history.isError ? (
        <p className="alert alert-error table-message" role="alert">{messageOf(history.error)}</p>
      ) : (
        <DataTable label="Change history" columns={COLUMNS} rows={entries} rowKey={(e) => e.id} busy={history.isPending} empty={history.isPending ? "Loading…" : "No changes recorded."} testId="config-history" />
      )}
      {history.isError ? null : <LoadMore query={history} />}
    </section>
  );
}
