import type { TApiKey, TApiKeyCreated } from "@switchboard/schema";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { DataTable, Sparkline, type Column } from "../../components/data-table.tsx";
import { FormError } from "../../components/field.tsx";
import { PageHeader } from "../../components/page-header.tsx";
import { TagChips } from "../../components/tag-chips.tsx";
import { EditKeyDialog } from "./edit-key-dialog.tsx";
import { useCurrentUser } from "../../lib/session.tsx";
import { KeySettingsFields, NEW_KEY_DRAFT, keySettingsOf, scopesOffered, type DraftErrors, type KeyDraft } from "./key-settings.tsx";
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
  const user = useCurrentUser();
  const [draft, setDraft] = useState<KeyDraft>(NEW_KEY_DRAFT);
  const [draftErrors, setDraftErrors] = useState<DraftErrors>({});
  const { fields, formError } = submitErrorsOf(create);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const read = keySettingsOf(draft);
    setDraftErrors("errors" in read ? read.errors : {});
    if ("errors" in read) return;
    const { rateLimitPerMin, budgetUsd, budgetPeriod, tags, models, ...always } = read.settings;
    create.mutate(
      {
        ...always,
        // A new key has no limit, budget, tags or model list unless one is typed.
        ...(rateLimitPerMin !== null ? { rateLimitPerMin } : {}),
        ...(tags.length > 0 ? { tags } : {}),
        ...(models.length > 0 ? { models } : {}),
        ...(budgetUsd !== null ? { budgetUsd, budgetPeriod } : {}),
      },
      {
        onSuccess: (key) => {
          setDraft(NEW_KEY_DRAFT);
          onCreated(key);
        },
      },
    );
  };
  return (
    <section className="card" aria-label="Create an API key">
      <form className="form key-form" onSubmit={submit} noValidate>
        <KeySettingsFields draft={draft} onChange={setDraft} errors={{ ...fields, ...draftErrors }} scopes={scopesOffered(user.role, user.role)} />
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={create.isPending || draft.name.trim() === ""}>{create.isPending ? "Creating…" : "Create key"}</button>
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
