import type { TProviderItem, TProviderTestResult } from "@switchboard/schema";
import { useId } from "react";
import { PageHeader } from "../../components/page-header.tsx";
import { NoticeSlot, useNotice, type Notice } from "../../components/notice.tsx";
import { useEditForm } from "../../lib/use-edit-form.ts";
import { messageOf } from "../../lib/errors.ts";
import { useCurrentUser } from "../../lib/session.tsx";
import { roleAtLeast } from "../../lib/roles.ts";
import { ConfigDocumentCard } from "./config-document-card.tsx";
import { ConfigHistoryCard } from "./config-history-card.tsx";
import { ProviderForm } from "./provider-form.tsx";
import { useDeleteProvider, useProviders, useTestProvider } from "./providers-data.ts";

function Health({ p }: { p: TProviderItem }) {
  const { state, latencyMs, lastError } = p.health;
  if (state === "unknown") return <span className="badge badge-muted">not probed yet</span>;
  const ok = state === "reachable";
  return (
    <span className={`badge ${ok ? "badge-ok" : "badge-bad"}`} title={lastError ?? undefined}>
      {ok ? `reachable${latencyMs !== null ? ` · ${latencyMs} ms` : ""}` : "unreachable"}
      {lastError ? ` · ${lastError}` : ""}
    </span>
  );
}

function ProviderRow({ p, onEdit, onNotice }: { p: TProviderItem; onEdit: () => void; onNotice: (n: Notice) => void }) {
  const test = useTestProvider();
  const remove = useDeleteProvider();
  const report = (r: TProviderTestResult) =>
    onNotice(r.ok ? { kind: "success", text: `${p.name} answered in ${r.latencyMs} ms.` } : { kind: "error", text: `${p.name} failed after ${r.latencyMs} ms: ${r.error}` });
  return (
    <tr data-testid={`provider-row-${p.name}`}>
      <td className="cell-user"><strong>{p.name}</strong>{p.source === "env" ? <span className="badge badge-muted badge-inline">env</span> : null}</td>
      <td>{p.kind}</td>
      <td><code>{p.apiKeyMasked ?? "—"}</code></td>
      <td><Health p={p} /></td>
      <td><span className={`badge ${p.circuit.state === "closed" ? "badge-ok" : "badge-bad"}`}>{p.circuit.state.replace("_", "-")}</span></td>
      <td>{p.models.join(", ") || "—"}</td>
      <td>{p.usedBy.join(", ") || "—"}</td>
      <td className="cell-actions">
        <button type="button" className="btn btn-small" disabled={test.isPending} onClick={() => test.mutate(p.id, { onSuccess: report, onError: (e) => onNotice({ kind: "error", text: messageOf(e) }) })}>
          {test.isPending ? "Testing…" : "Test"}
        </button>
        {p.kind !== "template" ? <button type="button" className="btn btn-small" onClick={onEdit}>Edit</button> : null}
        {p.kind !== "template" ? (
          <button
            type="button"
            className="btn btn-small btn-danger-ghost"
            disabled={remove.isPending}
            onClick={() =>
              remove.mutate(p.id, {
                onSuccess: () => onNotice({ kind: "success", text: `Removed ${p.name}.` }),
                onError: (e) => onNotice({ kind: "error", text: messageOf(e) }),
              })
            }
          >
            Delete
          </button>
        ) : null}
      </td>
    </tr>
  );
}

export function ProvidersPage() {
  const list = useProviders();
  const user = useCurrentUser();
  const [notice, setNotice] = useNotice();
  const form = useEditForm((item: TProviderItem) => item.id);
  const tableId = useId();
  const providers = list.data?.items ?? [];

  return (
    <>
      <PageHeader title="Providers" description="Upstream model providers. Changes apply on every instance within a second; keys are stored encrypted and shown masked." />
      <NoticeSlot notice={notice} onDismiss={() => setNotice(null)} testId="providers-notice" />
      <ProviderForm
        key={form.formKey}
        editing={form.editing}
        onDone={(text) => {
          form.saved();
          setNotice({ kind: "success", text });
        }}
      />
      <section className="card card-flush" aria-labelledby={tableId}>
        <div className="table-toolbar">
          <h2 id={tableId}>All providers {list.data ? <span className="count">{providers.length}</span> : null}</h2>
        </div>
        {list.isError ? (
          <p className="alert alert-error table-message" role="alert">{messageOf(list.error)}</p>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-labelledby={tableId}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">API key</th>
                  <th scope="col">Health</th>
                  <th scope="col">Circuit</th>
                  <th scope="col">Models</th>
                  <th scope="col">Used by</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {providers.map((p) => <ProviderRow key={p.id} p={p} onEdit={() => form.edit(p)} onNotice={setNotice} />)}
                {list.isPending ? <tr><td colSpan={8} className="table-empty">Loading providers…</td></tr> : null}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <ConfigDocumentCard canApply={roleAtLeast(user.role, "SUPERADMIN")} />
      <ConfigHistoryCard />
    </>
  );
}
