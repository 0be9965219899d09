import { KEY_SCOPES, type TApiKey, type TApiKeyCreated, type TKeyScope } from "@switchboard/schema";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { BudgetFields, NOT_AN_AMOUNT, parseBudgetAmount, type BudgetDraft } from "../../components/budget-fields.tsx";
import { DataTable, Sparkline, type Column } from "../../components/data-table.tsx";
import { Field, FormError } from "../../components/field.tsx";
import { PageHeader } from "../../components/page-header.tsx";
import { TagChips } from "../../components/tag-chips.tsx";
import { EditKeyDialog } from "./edit-key-dialog.tsx";
import { messageOf, submitErrorsOf } from "../../lib/errors.ts";
import { timeAgo } from "../../lib/relative-time.ts";
import { keysList, lastDays, usageSummary, usd, useCreateKey, useRevokeKey } from "../usage-data.ts";

function KeyUsage({ id }: { id: string }) {
  const days = lastDays(14);
  const q = useQuery(usageSummary({ groupBy: "day", keyId: id, from: `${days[0]}T00:00:00Z` }));
  const byDay = new Map(q.data?.groups.map((g) => [g.key, g.requests]) ?? []);
  return <Sparkline values={days.map((d) => byDay.get(d) ?? 0)} label={`Requests per day, last 14 days`} />;
}

/** Shows a new key's secret once, with a copy button; closing it is the last chance to see it. */
function CopyOnceDialog({ created, onClose }: { created: TApiKeyCreated; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [copied, setCopied] = useState(false);
  const titleId = useId();
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);
  const copy = () => void navigator.clipboard?.writeText(created.key).then(() => setCopied(true), () => setCopied(false));
  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={titleId} onClose={onClose} data-testid="key-created-dialog">
      <h2 id={titleId}>API key created</h2>
      <p className="muted">Copy the key now. It is stored only as a hash and <strong>will not be shown again</strong>.</p>
      <div className="secret-box">
        <code data-testid="new-key-secret">{created.key}</code>
      </div>
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
        <button type="button" className="btn btn-primary" onClick={onClose}>I have stored it</button>
      </div>
    </dialog>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (key: TApiKeyCreated) => void }) {
  const create = useCreateKey();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<TKeyScope[]>(["chat", "models"]);
  const [rate, setRate] = useState("");
  const [tags, setTags] = useState("");
  const [budget, setBudget] = useState<BudgetDraft>({ amount: "", period: "month" });
  const [amountError, setAmountError] = useState<string | undefined>();
  const { fields, formError } = submitErrorsOf(create);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const budgetUsd = parseBudgetAmount(budget.amount);
    setAmountError(budgetUsd === undefined ? NOT_AN_AMOUNT : undefined);
    if (budgetUsd === undefined) return;
    create.mutate(
      {
        name,
        scopes,
        ...(rate ? { rateLimitPerMin: Number(rate) } : {}),
        ...(tags.trim() ? { tags: tags.split(",").map((t) => t.trim()).filter(Boolean) } : {}),
        ...(budgetUsd !== null ? { budgetUsd, budgetPeriod: budget.period } : {}),
      },
      {
        onSuccess: (key) => {
          setName("");
          setTags("");
          onCreated(key);
        },
      },
    );
  };
  return (
    <section className="card" aria-label="Create an API key">
      <form className="form key-form" onSubmit={submit} noValidate>
        <Field label="Name" error={fields.name}>
          {(control) => <input {...control} value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-pipeline" required />}
        </Field>
        <fieldset className="field scopes">
          <legend>Scopes</legend>
          {KEY_SCOPES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
              {s}
            </label>
          ))}
        </fieldset>
        <Field label="Requests / min" error={fields.rateLimitPerMin}>
          {(control) => <input {...control} type="number" min={1} value={rate} onChange={(e) => setRate(e.target.value)} placeholder="no limit" />}
        </Field>
        <Field label="Tags" error={fields.tags}>
          {(control) => <input {...control} value={tags} onChange={(e) => setTags(e.target.value)} placeholder="team:search, env=prod" />}
        </Field>
        <BudgetFields value={budget} onChange={setBudget} errors={{ budgetUsd: amountError ?? fields.budgetUsd, budgetPeriod: fields.budgetPeriod }} />
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={create.isPending || name.trim() === ""}>{create.isPending ? "Creating…" : "Create key"}</button>
        </div>
      </form>
      <FormError message={formError ?? fields.scopes} />
    </section>
  );
}

export function KeysPage() {
  const list = useQuery(keysList({ limit: 100, includeRevoked: false }));
  const revoke = useRevokeKey();
  const [created, setCreated] = useState<TApiKeyCreated | null>(null);
  const [editing, setEditing] = useState<TApiKey | null>(null);
  const columns: Column<TApiKey>[] = [
    { id: "name", header: "Name", cell: (k) => <strong>{k.name}</strong> },
    { id: "prefix", header: "Key", cell: (k) => <code>{k.prefix}…</code> },
    { id: "owner", header: "Owner", cell: (k) => k.owner.email, secondary: true },
    {
      id: "scopes",
      header: "Scopes",
      // The key's tags under its scopes: what its requests are labelled with in the log.
      cell: (k) => (<><span className="scope-list">{k.scopes.join(", ")}</span><TagChips tags={k.tags} /></>),
      secondary: true,
    },
    { id: "used", header: "Last used", cell: (k) => (k.lastUsedAt ? timeAgo(k.lastUsedAt) : "never") },
    { id: "usage", header: "14 days", cell: (k) => <KeyUsage id={k.id} /> },
    { id: "spend", header: "Spend", align: "right", cell: (k) => `${usd(k.spendUsd)}${k.budgetUsd !== null ? ` / ${usd(k.budgetUsd)}` : ""}` },
    {
      id: "actions",
      header: <span className="visually-hidden">Actions</span>,
      cell: (k) => (
        <span className="row-actions">
          <button type="button" className="btn btn-small" onClick={() => setEditing(k)}>Edit</button>
          <button
            type="button"
            className="btn btn-small btn-danger-ghost"
            disabled={revoke.isPending}
            onClick={() => window.confirm(`Revoke "${k.name}"? Programs using it stop at once.`) && revoke.mutate(k.id)}
          >
            Revoke
          </button>
        </span>
      ),
    },
  ];
  return (
    <>
      <PageHeader title="API keys" description="Credentials for programs: each acts as its owner, narrowed by scopes, a rate limit and a budget." />
      <CreateKeyForm onCreated={setCreated} />
      {created ? <CopyOnceDialog created={created} onClose={() => setCreated(null)} /> : null}
      {editing ? <EditKeyDialog apiKey={editing} onClose={() => setEditing(null)} /> : null}
      <section className="card card-flush">
        {list.isError ? (
          <p className="alert alert-error table-message" role="alert">{messageOf(list.error)}</p>
        ) : (
          <DataTable label="API keys" testId="keys-table" columns={columns} rows={list.data?.items ?? []} rowKey={(k) => k.id} busy={list.isFetching} empty="No API keys yet." />
        )}
      </section>
    </>
  );
}
