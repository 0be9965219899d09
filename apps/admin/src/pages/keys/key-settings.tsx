import { DEFAULT_KEY_SCOPES, type TApiKey, type TBudgetPeriod, type TKeyScope, type TRole } from "@switchboard/schema";
import { BudgetFields, NOT_AN_AMOUNT, budgetDraftOf, parseBudgetAmount, type BudgetDraft } from "../../components/budget-fields.tsx";
import { Field } from "../../components/field.tsx";

/** A key's settings as typed: numbers and lists stay text until sent, so "" can mean "none". */
export interface KeyDraft {
  name: string;
  scopes: TKeyScope[];
  rate: string;
  tags: string;
  models: string;
  budget: BudgetDraft;
}

export const NEW_KEY_DRAFT: KeyDraft = { name: "", scopes: ["chat", "models"], rate: "", tags: "", models: "", budget: { amount: "", period: "month" } };

export function keyDraftOf(key: TApiKey): KeyDraft {
  return {
    name: key.name,
    scopes: key.scopes,
    rate: key.rateLimitPerMin === null ? "" : String(key.rateLimitPerMin),
    tags: key.tags.join(", "),
    models: key.models.join(", "),
    budget: budgetDraftOf(key),
  };
}

/** What a draft sets: an empty field clears its setting (no limit, no budget, any model, no tags). */
export interface KeySettings {
  name: string;
  scopes: TKeyScope[];
  tags: string[];
  models: string[];
  rateLimitPerMin: number | null;
  budgetUsd: number | null;
  budgetPeriod: TBudgetPeriod;
}

/** What a draft cannot say: a field's message, when its text is not what the field takes. */
export type DraftErrors = { budgetUsd?: string; rateLimitPerMin?: string };

/**
 * The settings to send, or the messages of fields whose text is not a number at all (range
 * checks are the server's, so its message shows). A number typed wrong is never read as an
 * emptied field: that would clear the setting.
 */
export function keySettingsOf(draft: KeyDraft): { settings: KeySettings } | { errors: DraftErrors } {
  const budgetUsd = parseBudgetAmount(draft.budget.amount);
  const rate = draft.rate.trim();
  const errors: DraftErrors = {
    ...(budgetUsd === undefined ? { budgetUsd: NOT_AN_AMOUNT } : {}),
    ...(rate !== "" && !/^\d+$/.test(rate) ? { rateLimitPerMin: "Enter a whole number of requests per minute, or leave it empty for no limit" } : {}),
  };
  if (budgetUsd === undefined || Object.keys(errors).length > 0) return { errors };
  return {
    settings: {
      name: draft.name,
      scopes: draft.scopes,
      tags: listOf(draft.tags),
      models: listOf(draft.models),
      rateLimitPerMin: rate === "" ? null : Number(rate),
      budgetUsd,
      budgetPeriod: draft.budget.period,
    },
  };
}

/** The settings that differ from a key's own: an edit sends only those, so it does not undo a change made meanwhile elsewhere. */
export function changedSettings(key: TApiKey, settings: KeySettings): Partial<KeySettings> {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const current: KeySettings = { name: key.name, scopes: key.scopes, tags: key.tags, models: key.models, rateLimitPerMin: key.rateLimitPerMin, budgetUsd: key.budgetUsd, budgetPeriod: key.budgetPeriod };
  return Object.fromEntries(Object.entries(settings).filter(([field, value]) => !same(value, current[field as keyof KeySettings])));
}

const listOf = (text: string) => text.split(",").map((part) => part.trim()).filter(Boolean);

/** Where the server's message for each setting shows. */
export type KeySettingsErrors = Partial<Record<"name" | "scopes" | "tags" | "models" | "rateLimitPerMin" | "budgetUsd" | "budgetPeriod", string | undefined>>;

/**
 * The scopes a form offers: `write:config` (providers and routes by a program) only where the
 * server takes it — a SuperAdmin, on a SuperAdmin's key — or where the key already has it.
 */
export function scopesOffered(actorRole: TRole, ownerRole: TRole, has: readonly TKeyScope[] = []): TKeyScope[] {
  const config = has.includes("write:config") || (actorRole === "SUPERADMIN" && ownerRole === "SUPERADMIN");
  return config ? [...DEFAULT_KEY_SCOPES, "write:config"] : [...DEFAULT_KEY_SCOPES];
}

/** The fields of a key's settings, shared by the create form and the edit dialog. */
export function KeySettingsFields({ draft, onChange, errors, scopes }: { draft: KeyDraft; onChange: (next: KeyDraft) => void; errors: KeySettingsErrors; scopes: readonly TKeyScope[] }) {
  const set = (part: Partial<KeyDraft>) => onChange({ ...draft, ...part });
  return (
    <>
      <Field label="Name" error={errors.name}>
        {(control) => <input {...control} value={draft.name} onChange={(e) => set({ name: e.target.value })} placeholder="ci-pipeline" required />}
      </Field>
      <fieldset className="field scopes">
        <legend>Scopes</legend>
        {scopes.map((s) => (
          <label key={s} className="check">
            <input type="checkbox" checked={draft.scopes.includes(s)} onChange={(e) => set({ scopes: e.target.checked ? [...draft.scopes, s] : draft.scopes.filter((x) => x !== s) })} />
            {s}
          </label>
        ))}
      </fieldset>
      <Field label="Requests / min" error={errors.rateLimitPerMin}>
        {(control) => <input {...control} inputMode="numeric" autoComplete="off" value={draft.rate} onChange={(e) => set({ rate: e.target.value })} placeholder="no limit" />}
      </Field>
      <Field label="Models" error={errors.models}>
        {(control) => <input {...control} value={draft.models} onChange={(e) => set({ models: e.target.value })} placeholder="any model" />}
      </Field>
      <Field label="Tags" error={errors.tags}>
        {(control) => <input {...control} value={draft.tags} onChange={(e) => set({ tags: e.target.value })} placeholder="team:search, env=prod" />}
      </Field>
      <BudgetFields value={draft.budget} onChange={(budget) => set({ budget })} errors={{ budgetUsd: errors.budgetUsd, budgetPeriod: errors.budgetPeriod }} />
    </>
  );
}
