import { ZRequestTag, type TLogsListInput, type TRequestLog } from "@switchboard/schema";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { DataTable, type Column } from "../../components/data-table.tsx";
import { DownloadNote } from "../../components/download-note.tsx";
import { PageHeader } from "../../components/page-header.tsx";
import { PurgeCacheActions } from "./purge-cache.tsx";
import { PurgeHistoryCard } from "./purge-history-card.tsx";
import { TagChips } from "../../components/tag-chips.tsx";
import { useCheckedDownload } from "../../lib/checked-download.ts";
import { messageOf } from "../../lib/errors.ts";
import { roleAtLeast } from "../../lib/roles.ts";
import { useCurrentUser } from "../../lib/session.tsx";
import { readableJson } from "../../lib/format.ts";
import { logsGet, logsList, usd } from "../usage-data.ts";

/** The CSV export of what the table shows (the same filters; every page, up to its cap). */
function exportUrl(input: NonNullable<TLogsListInput>): string {
  const { limit: _limit, cursor: _cursor, ...filters } = input;
  const query = new URLSearchParams(Object.entries(filters).map(([k, v]) => [k, String(v)]));
  return `/api/logs/export.csv${query.size > 0 ? `?${query}` : ""}`;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** One request in full: fields, and its attempts on a timeline from the request's arrival. */
function LogDrawer({ id, onClose }: { id: string; onClose: () => void }) {
  const q = useQuery(logsGet(id));
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);
  const d = q.data;
  const span = d ? Math.max(1, d.latencyMs, ...d.attempts.map((a) => a.startMs + a.latencyMs)) : 1;
  return (
    <dialog ref={dialog} className="dialog drawer" aria-labelledby={titleId} onClose={onClose} data-testid="log-drawer">
      <div className="drawer-head">
        <h2 id={titleId}>Request</h2>
        <button type="button" className="btn btn-small" onClick={onClose}>Close</button>
      </div>
      {q.isError ? <p className="alert alert-error">{messageOf(q.error)}</p> : null}
      {d ? (
        <>
          <dl className="facts">
            <dt>Request id</dt><dd><code>{d.requestId}</code></dd>
            <dt>Time</dt><dd>{new Date(d.createdAt).toLocaleString()}</dd>
            <dt>Route</dt><dd>{d.method} {d.route}</dd>
            <dt>Status</dt><dd>{d.status}{d.errorCode ? ` · ${d.errorCode}` : ""}</dd>
            <dt>Model</dt><dd>{d.cacheHit ? <>{d.model ?? "-"} → response cache (no provider called)</> : <>{d.model ?? "-"} → {d.provider ?? "-"} / {d.upstreamModel ?? "-"}</>}</dd>
            <dt>Tokens</dt><dd>{d.promptTokens} prompt · {d.completionTokens} completion</dd>
            <dt>Cost</dt><dd>{usd(d.costUsd)}{d.cacheHit ? ` · ≈ ${usd(d.cacheSavedUsd)} saved (the same answer at its route's prices)` : ""}</dd>
            <dt>Latency</dt><dd>{d.latencyMs} ms{d.ttftMs !== null ? ` · first token ${d.ttftMs} ms` : ""}{d.stream ? " · stream" : ""}</dd>
            <dt>Caller</dt><dd>{d.userId ?? "-"}{d.keyId ? ` · key ${d.keyId}` : ""} · {d.ip ?? "-"}</dd>
            <dt>Tags</dt><dd>{d.tags.length > 0 ? <TagChips tags={d.tags} /> : "-"}</dd>
          </dl>
          <h3>Attempts</h3>
          {d.attempts.length === 0 ? <p className="muted">No upstream call was made.</p> : null}
          <ol className="attempts">
            {d.attempts.map((a, i) => (
              <li key={i} className={a.outcome === "success" ? "ok" : "bad"}>
                <div className="attempt-label">{a.provider} · {a.outcome} · {a.latencyMs} ms{a.ttftMs !== null ? ` (first token ${a.ttftMs} ms)` : ""}</div>
                <div className="attempt-track">
                  <span style={{ left: `${(a.startMs / span) * 100}%`, width: `${Math.max(1, (a.latencyMs / span) * 100)}%` }} />
                </div>
              </li>
            ))}
          </ol>
          {d.requestBody ? (<><h3>Request body</h3><pre className="body">{readableJson(d.requestBody)}</pre></>) : null}
          {d.responseBody ? (<><h3>{d.stream ? "Response (assembled from the stream)" : "Response body"}</h3><pre className="body">{readableJson(d.responseBody)}</pre></>) : null}
        </>
      ) : null}
    </dialog>
  );
}

export function LogsPage() {
  const user = useCurrentUser();
  const [filters, setFilters] = useState({ model: "", provider: "", status: "", q: "", tag: "", cache: "" });
  const [live, setLive] = useState(false);
  // Only a well-formed tag is asked for; a half-typed one says what a tag may hold.
  const tagCheck = filters.tag.trim() ? ZRequestTag.safeParse(filters.tag) : undefined;
  const tag = tagCheck?.success ? tagCheck.data : undefined;
  const [open, setOpen] = useState<string | null>(null);
  const input: TLogsListInput = {
    limit: 100,
    ...(filters.model ? { model: filters.model } : {}),
    ...(filters.provider ? { provider: filters.provider } : {}),
    ...(filters.status ? { status: (/^\d+$/.test(filters.status) ? Number(filters.status) : filters.status) as never } : {}),
    ...(filters.q ? { q: filters.q } : {}),
    ...(tag ? { tag } : {}),
    ...(filters.cache ? { cacheHit: filters.cache === "hit" } : {}),
  };
  const list = useQuery({ ...logsList(input), refetchInterval: live ? 2000 : false, placeholderData: (p) => p });
  const csv = useCheckedDownload(exportUrl(input));
  const set = (k: keyof typeof filters) => (e: { target: { value: string } }) => setFilters({ ...filters, [k]: e.target.value });
  const columns: Column<TRequestLog>[] = [
    { id: "time", header: "Time", cell: (r) => <span className="cell-date">{time(r.createdAt)}</span> },
    {
      id: "status",
      header: "Status",
      cell: (r) => (<><span className={`badge ${r.status < 400 ? "badge-ok" : "badge-bad"}`}>{r.status}</span>{r.cacheHit ? <span className="badge badge-muted badge-inline" title="Answered from the response cache: no provider called">cached</span> : null}</>),
    },
    // Tags under the route, not in a column of their own: the table keeps its width.
    { id: "route", header: "Route", cell: (r) => (<><code>{r.route}</code><TagChips tags={r.tags} /></>) },
    { id: "model", header: "Model", cell: (r) => r.model ?? "-" },
    { id: "provider", header: "Provider", cell: (r) => r.provider ?? "-", secondary: true },
    { id: "tokens", header: "Tokens", align: "right", cell: (r) => `${r.promptTokens}+${r.completionTokens}`, secondary: true },
    { id: "cost", header: "Cost", align: "right", cell: (r) => usd(r.costUsd) },
    { id: "latency", header: "Latency", align: "right", cell: (r) => `${r.latencyMs} ms` },
    // Codes such as INSUFFICIENT_QUOTA are one long word: they wrap rather than widen the table.
    { id: "error", header: "Error", cell: (r) => <span className="cell-wrap">{r.errorCode ?? ""}</span>, secondary: true },
  ];
  return (
    <>
      <PageHeader title="Logs" description="Every gateway request, over HTTP or WebSocket: who asked, which model answered, tokens, cost and timing." actions={<PurgeCacheActions />} />
      <section className="card card-flush">
        <div className="table-toolbar filters">
          <input aria-label="Search" type="search" placeholder="Search request id, route, error…" value={filters.q} onChange={set("q")} />
          <input aria-label="Model" placeholder="Model" value={filters.model} onChange={set("model")} />
          <input aria-label="Provider" placeholder="Provider" value={filters.provider} onChange={set("provider")} />
          <input aria-label="Tag" placeholder="Tag" value={filters.tag} onChange={set("tag")} aria-invalid={tagCheck?.success === false} title={tagCheck?.success === false ? tagCheck.error.issues[0]?.message : undefined} />
          <select aria-label="Status" value={filters.status} onChange={set("status")}>
            <option value="">Any status</option>
            <option value="2xx">2xx</option>
            <option value="4xx">4xx</option>
            <option value="5xx">5xx</option>
            <option value="error">Errors</option>
          </select>
          <select aria-label="Answered by" value={filters.cache} onChange={set("cache")}>
            <option value="">Any source</option>
            <option value="hit">Cache hits</option>
            <option value="provider">Not cached</option>
          </select>
          <label className="check">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Live tail
          </label>
          <button type="button" className="btn btn-small" onClick={() => void csv.download()} disabled={csv.busy}>Download CSV</button>
        </div>
        <DownloadNote note={csv.note} />
        {list.isError ? (
          <p className="alert alert-error table-message" role="alert">{messageOf(list.error)}</p>
        ) : (
          <DataTable label="Request log" testId="logs-table" columns={columns} rows={list.data?.items ?? []} rowKey={(r) => r.id} onRowClick={(r) => setOpen(r.id)} busy={list.isFetching} empty="No requests match." />
        )}
      </section>
      {roleAtLeast(user.role, "ADMIN") ? <PurgeHistoryCard /> : null}
      {open ? <LogDrawer id={open} onClose={() => setOpen(null)} /> : null}
    </>
  );
}
