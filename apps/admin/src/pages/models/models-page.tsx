import type { TModelItem } from "@switchboard/schema";
import { useId, useState } from "react";
import { PageHeader } from "../../components/layout.tsx";
import { messageOf } from "../../lib/errors.ts";
import { useCurrentUser } from "../../lib/session.tsx";
import { useDeleteModel, useModels, useProviders } from "../providers/providers-data.ts";
import { RouteEditor } from "./route-editor.tsx";

interface Notice {
  kind: "success" | "error";
  text: string;
}

const price = (v: number | null) => (v === null ? "—" : `$${v}`);

export function ModelsPage() {
  const me = useCurrentUser();
  const canEdit = me.role === "SUPERADMIN";
  const models = useModels();
  const providers = useProviders();
  const remove = useDeleteModel();
  const [notice, setNotice] = useState<Notice | null>(null);
  // A new key after each save: the form starts empty again (no typed key left in the page).
  const [formRound, setFormRound] = useState(0);
  const [editing, setEditing] = useState<TModelItem | null>(null);
  const tableId = useId();
  const items = models.data?.items ?? [];

  return (
    <>
      <PageHeader title="Models" description="Public model names and their routes: weighted targets split traffic among healthy providers, the order decides fallback, prices feed spend accounting." />
      <div className="notice-slot" role="status" aria-live="polite" data-testid="models-notice">
        {notice ? (
          <div className={`alert ${notice.kind === "success" ? "alert-success" : "alert-error"}`}>
            <span>{notice.text}</span>
            <button type="button" className="alert-close" aria-label="Dismiss message" onClick={() => setNotice(null)}>×</button>
          </div>
        ) : null}
      </div>
      {canEdit && providers.data ? (
        <RouteEditor
          key={`${editing?.name ?? "new"}-${formRound}`}
          editing={editing}
          providers={providers.data.items}
          onDone={(text) => {
            setEditing(null);
            setFormRound((n) => n + 1);
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
                    <td className="cell-actions">
                      {canEdit ? <button type="button" className="btn btn-small" onClick={() => setEditing(m)}>Edit</button> : null}
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
