import { PROVIDER_KINDS, type TProviderItem } from "@switchboard/schema";
import { useId, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
import { useCreateProvider, useUpdateProvider } from "./providers-data.ts";

type Kind = (typeof PROVIDER_KINDS)[number];

/**
 * Create a provider, or edit one (`editing`). The key field is write-only: left empty on
 * edit it keeps the stored key, which is only ever shown masked. Validation is the server's.
 */
export function ProviderForm({ editing, onDone }: { editing: TProviderItem | null; onDone: (text: string) => void }) {
  const [name, setName] = useState(editing?.name ?? "");
  const [kind, setKind] = useState<Kind>(editing && editing.kind !== "template" ? editing.kind : "openai-compatible");
  const [baseUrl, setBaseUrl] = useState(editing?.baseUrl ?? "");
  const [apiKey, setApiKey] = useState("");
  const [models, setModels] = useState(editing?.models.join(", ") ?? "");
  const [timeoutMs, setTimeoutMs] = useState(editing?.timeoutMs ? String(editing.timeoutMs) : "");
  const create = useCreateProvider();
  const update = useUpdateProvider();
  const mutation = editing ? update : create;
  const { fields, formError } = submitErrorsOf(mutation);
  const headingId = useId();

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const common = {
      name,
      kind,
      baseUrl,
      models: models.split(",").map((m) => m.trim()).filter(Boolean),
      ...(timeoutMs.trim() ? { timeoutMs: Number(timeoutMs) } : {}),
    };
    const done = (result: { acknowledgedBy: number; liveInstances: number }) =>
      onDone(`${editing ? "Saved" : "Added"} ${name}; applied by ${result.acknowledgedBy} of ${result.liveInstances} instances.`);
    if (editing) update.mutate({ id: editing.id, ...common, ...(apiKey ? { apiKey } : {}) }, { onSuccess: done });
    else create.mutate({ ...common, ...(apiKey ? { apiKey } : {}) }, { onSuccess: done });
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{editing ? `Edit ${editing.name}` : "Add a provider"}</h2>
      <form className="form form-inline" onSubmit={onSubmit} noValidate aria-label={editing ? "Edit provider" : "Add provider"}>
        <Field label="Name" error={fields.name}>
          {(control) => <input {...control} value={name} placeholder="groq" onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Kind" error={fields.kind}>
          {(control) => (
            <select {...control} value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
              {PROVIDER_KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
            </select>
          )}
        </Field>
        <Field label="Base URL" error={fields.baseUrl} className="field-grow">
          {(control) => <input {...control} value={baseUrl} placeholder="https://api.groq.com/openai/v1" onChange={(e) => setBaseUrl(e.target.value)} />}
        </Field>
        <Field label="API key" error={fields.apiKey} hint={apiKeyHint(editing)}>
          {(control) => <input {...control} type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} />}
        </Field>
        <Field label="Models" error={fields.models} hint="Comma-separated; the first is the default." className="field-grow">
          {(control) => <input {...control} value={models} placeholder="llama-3.3-70b-versatile" onChange={(e) => setModels(e.target.value)} />}
        </Field>
        <Field label="Timeout (ms)" error={fields.timeoutMs}>
          {(control) => <input {...control} inputMode="numeric" value={timeoutMs} placeholder="30000" onChange={(e) => setTimeoutMs(e.target.value)} />}
        </Field>
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={mutation.isPending}>
            {mutation.isPending ? "Saving…" : editing ? "Save provider" : "Add provider"}
          </button>
        </div>
      </form>
      <FormError message={formError} />
    </section>
  );
}

/**
 * What the key field says of the stored key. One this instance's SECRETS_KEY cannot decrypt
 * (rotated, or another instance's) is not there to keep: the provider is not called until it
 * is entered again.
 */
function apiKeyHint(editing: TProviderItem | null): string {
  const unreadable = editing?.unreadableSecrets ?? [];
  if (unreadable.includes("apiKey")) return "The stored key cannot be read with this SECRETS_KEY: enter it again (the provider is not called until then).";
  const headers = unreadable.includes("headers") ? " Its stored headers cannot be read with this SECRETS_KEY: set them again (providers.update)." : "";
  if (editing?.apiKeyMasked) return `Stored: ${editing.apiKeyMasked}. Leave empty to keep it.${headers}`;
  return `Stored encrypted; never shown again.${headers}`;
}
