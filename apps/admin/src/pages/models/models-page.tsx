import type { TModelItem } from "@switchboard/schema";
import { useId } from "react";
import { PageHeader } from "../../components/page-header.tsx";
import { NoticeSlot, useNotice } from "../../components/notice.tsx";
import { useEditForm } from "../../lib/use-edit-form.ts";
import { messageOf } from "../../lib/errors.ts";
import { useCurrentUser } from "../../lib/session.tsx";
import { useDeleteModel, useModels, useProviders } from "../providers/providers-data.ts";
import { RouteEditor } from "./route-editor.tsx";

const price = (v: number | null) => (v === null ? "—" : `$${v}`);

export function ModelsPage() {
  const me = useCurrentUser();
  const canEdit = me.role === "SUPERADMIN";
  const models = useModels();
  const providers = useProviders();
  const remove = useDeleteModel();
  const [notice, setNotice] = useNotice();
  const form = useEditForm((item: TModelItem) => item.name);
  const tableId = useId();
  const items = models.data?.items ?? [];

  return (
    <>
      <PageHeader title="Models" description="Public model names and their routes: weighted targets split traffic among healthy providers, the order decides fallback, prices feed spend accounting." />
      <NoticeSlot notice={notice} onDismiss={() => setNotice(null)} testId="models-notice" />
      {canEdit && providers.data ? (
        <RouteEditor
          key={form.formKey}
          editing={form.editing}
          providers={providers.data.items}
          onDone={(text) => {
            form.saved();
            setNotice({ kind: "success", text });
          }}
        />
      ) : null}
      <section className="card card-flush" aria-labelledby={tableId}>
        <div className="table-toolbar">
          <h2 id={tableId}>All models {models.data ? <span className="count">{items.length}</span> : null}</h2>
        </div>
        {models.isError ? (
          <p className="alert alert-error table-message" role="alert">{messageOf(models.error)}</p>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-labelledby={tableId}>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Targets (fallback order)</th>
                  <th scope="col">Input $/M</th>
                  <th scope="col">Output $/M</th>
                  <th scope="col">Cached $/M</th>
                  <th scope="col">Cache</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {items.map((m) => (
                  <tr key={m.name} data-testid={`model-row-${m.name}`}>
                    <td className="cell-user"><strong>{m.name}</strong>{m.isDefault ? <span className="badge badge-muted badge-inline">default</span> : null}</td>
                    <td>{m.targets.map((t) => `${t.provider}/${t.upstreamModel}${t.weight !== null ? ` ×${t.weight}` : ""}`).join(" → ")}</td>
                    <td>{price(m.inputPricePerMTok)}</td>
                    <td>{price(m.outputPricePerMTok)}</td>
                    <td>{price(m.cachedInputPricePerMTok)}</td>
                    <td>{m.cacheTtlSec === null ? "—" : `${m.cacheTtlSec} s`}</td>
                    <td className="cell-actions">
                      {canEdit ? <button type="button" className="btn btn-small" onClick={() => form.edit(m)}>Edit</button> : null}
                      {canEdit && !m.isDefault ? (
                        <button
                          type="button"
                          className="btn btn-small btn-danger-ghost"
                          onClick={() =>
                            remove.mutate(m.name, {
                              onSuccess: () => setNotice({ kind: "success", text: `Removed ${m.name}.` }),
                              onError: (e) => setNotice({ kind: "error", text: messageOf(e) }),
                            })
                          }
                        >
                          Delete
                        </button>
                      ) : null}
                    </td>
                  </tr>
                ))}
                {models.isPending ? <tr><td colSpan={6} className="table-empty">Loading models…</td></tr> : null}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
