import type { TUsageSummary, TUsageSummaryInput } from "@switchboard/schema";
import { useQuery } from "@tanstack/react-query";
import { DataTable, type Column } from "../../components/data-table.tsx";
import { DownloadNote } from "../../components/download-note.tsx";
import { useCheckedDownload } from "../../lib/checked-download.ts";
import { counted, lastDays, usageSummary, usd } from "../usage-data.ts";

type Group = TUsageSummary["groups"][number];

/** Spend per day for the last `days` days, as bars (days without requests show as empty); `tag`: only requests carrying it. */
export function SpendByDay({ days = 30, tag }: { days?: number; tag?: string | undefined }) {
  const range = lastDays(days);
  const q = useQuery(usageSummary({ groupBy: "day", from: `${range[0]}T00:00:00Z`, ...(tag ? { tag } : {}) }));
  const byDay = new Map(q.data?.groups.map((g) => [g.key, g]) ?? []);
  const max = Math.max(1e-9, ...range.map((d) => byDay.get(d)?.costUsd ?? 0));
  return (
    <section className="card" aria-label="Spend per day" data-testid="spend-by-day">
      <h2>
        Spend per day <span className="muted">· {usd(q.data?.total.costUsd ?? 0)} in {days} days</span>
        {q.data && q.data.total.cacheSavedUsd > 0 ? <span className="muted" data-testid="cache-saved"> · ≈ {usd(q.data.total.cacheSavedUsd)} saved by the response cache ({counted(q.data.total.cacheHits, "hit")})</span> : null}
      </h2>
      <div className="day-bars">
        {range.map((d) => {
          const g = byDay.get(d);
          const h = g ? Math.max(2, (g.costUsd / max) * 100) : 0;
          return (
            <div key={d} className="day-bar" title={`${d}: ${usd(g?.costUsd ?? 0)}, ${g?.requests ?? 0} requests`}>
              <span style={{ height: `${h}%` }} />
            </div>
          );
        })}
      </div>
    </section>
  );
}

const columns: Column<Group>[] = [
  { id: "key", header: "Name", cell: (g) => g.label ?? g.key },
  { id: "requests", header: "Requests", align: "right", cell: (g) => g.requests.toLocaleString() },
  { id: "prompt", header: "Prompt tokens", align: "right", cell: (g) => g.promptTokens.toLocaleString(), secondary: true },
  { id: "completion", header: "Completion tokens", align: "right", cell: (g) => g.completionTokens.toLocaleString(), secondary: true },
  { id: "cost", header: "Cost", align: "right", cell: (g) => usd(g.costUsd) },
  // What response-cache hits saved: their answers at the prices their calls would have cost.
  { id: "saved", header: "Saved by cache", align: "right", cell: (g) => (g.cacheHits > 0 ? <span title={`${counted(g.cacheHits, "request")} answered from the response cache`}>{usd(g.cacheSavedUsd)}</span> : "-"), secondary: true },
];

/** The top groups (keys, models, users, providers, tags) by spend; `tag`: only requests carrying it. */
export function TopSpend({ groupBy, title, limit, tag }: { groupBy: Exclude<TUsageSummaryInput["groupBy"], "day">; title: string; limit?: number; tag?: string | undefined }) {
  const q = useQuery(usageSummary({ groupBy, ...(tag ? { tag } : {}) }));
  const rows = (q.data?.groups ?? []).slice(0, limit ?? 100);
  const csv = useCheckedDownload(`/api/usage/export.csv?${new URLSearchParams({ groupBy, ...(tag ? { tag } : {}) })}`);
  return (
    <section className="card card-flush" aria-label={title}>
      <div className="table-toolbar">
        <h2>{title}</h2>
        <button type="button" className="btn btn-small" onClick={() => void csv.download()} disabled={csv.busy}>Download CSV</button>
      </div>
      <DownloadNote note={csv.note} />
      <DataTable label={title} testId={`top-${groupBy}`} columns={columns} rows={rows} rowKey={(g) => `${g.key}\u0000${g.label ?? ""}`} busy={q.isFetching} empty="No spend yet." />
    </section>
  );
}
