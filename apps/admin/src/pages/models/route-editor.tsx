import type { TModelItem, TProviderItem } from "@switchboard/schema";
import { useId, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
import { useUpsertModel } from "../providers/providers-data.ts";

interface TargetRow {
  provider: string;
  upstreamModel: string;
  weight: string;
}

const numberText = (v: number | null | undefined) => (v === null || v === undefined ? "" : String(v));

/**
 * Creates or edits one model route. Target order is the fallback order: the ↑/↓ buttons
 * move a target (keyboard-friendly, unlike dragging). Weights are optional.
 */
export function RouteEditor({ editing, providers, onDone }: { editing: TModelItem | null; providers: TProviderItem[]; onDone: (text: string) => void }) {
  const [name, setName] = useState(editing?.name ?? "");
  const [targets, setTargets] = useState<TargetRow[]>(
    editing?.targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel, weight: t.weight === null ? "" : String(t.weight) })) ?? [
      { provider: providers[0]?.name ?? "", upstreamModel: providers[0]?.models[0] ?? "", weight: "" },
    ],
  );
  const [input, setInput] = useState(numberText(editing?.inputPricePerMTok));
  const [output, setOutput] = useState(numberText(editing?.outputPricePerMTok));
  const [cached, setCached] = useState(numberText(editing?.cachedInputPricePerMTok));
  const [cacheTtl, setCacheTtl] = useState(numberText(editing?.cacheTtlSec));
  const upsert = useUpsertModel();
  const { fields, formError } = submitErrorsOf(upsert);
  const headingId = useId();

  const set = (i: number, patch: Partial<TargetRow>) => setTargets((rows) => rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const move = (i: number, by: -1 | 1) =>
    setTargets((rows) => {
      const next = [...rows];
      const [row] = next.splice(i, 1);
      next.splice(i + by, 0, row!);
      return next;
    });

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    // Left empty, a setting is unset (a route is replaced whole); anything else goes as typed, for the server to judge.
    const price = (v: string) => (v.trim() === "" ? undefined : Number(v));
    upsert.mutate(
      {
        name,
        targets: targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel, ...(t.weight.trim() ? { weight: Number(t.weight) } : {}) })),
        ...(price(input) !== undefined ? { inputPricePerMTok: price(input)! } : {}),
        ...(price(output) !== undefined ? { outputPricePerMTok: price(output)! } : {}),
        ...(price(cached) !== undefined ? { cachedInputPricePerMTok: price(cached)! } : {}),
        ...(price(cacheTtl) !== undefined ? { cacheTtlSec: price(cacheTtl)! } : {}),
      },
      { onSuccess: (r) => onDone(`Saved ${name}; applied by ${r.acknowledgedBy} of ${r.liveInstances} instances.`) },
    );
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{editing ? `Edit ${editing.name}` : "Add a model"}</h2>
      <form className="form" onSubmit={onSubmit} noValidate aria-label={editing ? "Edit model" : "Add model"}>
        <div className="form form-inline">
          <Field label="Model name" error={fields.name} hint="What clients send as model.">
            {(control) => <input {...control} value={name} readOnly={editing !== null} placeholder="fast" onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Input $/M tokens" error={fields.inputPricePerMTok}>
            {(control) => <input {...control} inputMode="decimal" value={input} onChange={(e) => setInput(e.target.value)} />}
          </Field>
          <Field label="Output $/M tokens" error={fields.outputPricePerMTok}>
            {(control) => <input {...control} inputMode="decimal" value={output} onChange={(e) => setOutput(e.target.value)} />}
          </Field>
          <Field label="Cached input $/M tokens" error={fields.cachedInputPricePerMTok}>
            {(control) => <input {...control} inputMode="decimal" value={cached} onChange={(e) => setCached(e.target.value)} />}
          </Field>
          <Field label="Cache answers (seconds)" error={fields.cacheTtlSec} hint="Repeats of a request are answered from the response cache; empty = only when a request asks.">
            {(control) => <input {...control} inputMode="numeric" placeholder="off" value={cacheTtl} onChange={(e) => setCacheTtl(e.target.value)} />}
          </Field>
        </div>
        <table className="table" aria-label="Targets in fallback order">
          <thead>
            <tr><th scope="col">#</th><th scope="col">Provider</th><th scope="col">Upstream model</th><th scope="col">Weight</th><th scope="col"><span className="visually-hidden">Order</span></th></tr>
          </thead>
          <tbody>
            {targets.map((t, i) => (
              <tr key={i} data-testid={`target-${i}`}>
                <td>{i + 1}</td>
                <td>
                  <select className="select-compact" aria-label={`Provider of target ${i + 1}`} value={t.provider} onChange={(e) => set(i, { provider: e.target.value })}>
                    {providers.map((p) => <option key={p.id} value={p.name}>{p.name}</option>)}
                  </select>
                </td>
                <td><input aria-label={`Upstream model of target ${i + 1}`} value={t.upstreamModel} onChange={(e) => set(i, { upstreamModel: e.target.value })} /></td>
                <td><input aria-label={`Weight of target ${i + 1}`} inputMode="decimal" placeholder="fallback" value={t.weight} onChange={(e) => set(i, { weight: e.target.value })} /></td>
                <td className="cell-actions">
                  <button type="button" className="btn btn-small" aria-label={`Move target ${i + 1} up`} disabled={i === 0} onClick={() => move(i, -1)}>↑</button>
                  <button type="button" className="btn btn-small" aria-label={`Move target ${i + 1} down`} disabled={i === targets.length - 1} onClick={() => move(i, 1)}>↓</button>
                  <button type="button" className="btn btn-small btn-danger-ghost" aria-label={`Remove target ${i + 1}`} disabled={targets.length === 1} onClick={() => setTargets((rows) => rows.filter((_, j) => j !== i))}>×</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {fields.targets ? <p className="field-error">{fields.targets}</p> : null}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={() => setTargets((rows) => [...rows, { provider: providers[0]?.name ?? "", upstreamModel: "", weight: "" }])}>Add target</button>
          <button type="submit" className="btn btn-primary" disabled={upsert.isPending}>{upsert.isPending ? "Saving…" : "Save model"}</button>
        </div>
      </form>
      <FormError message={formError} />
    </section>
  );
}
