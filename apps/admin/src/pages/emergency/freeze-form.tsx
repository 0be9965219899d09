import { EMERGENCY_SCOPES, type TEmergencyScope } from "@switchboard/schema";
import { useId, useState, type FormEvent } from "react";
import { scopeLabel } from "../../lib/emergency-status.ts";
import { Field, FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
import type { FreezeMutation } from "./emergency-data.ts";

/** What the operator must type: a deliberate act, not a stray click. */
export const CONFIRM_WORD = "FREEZE";

const EXPIRY_CHOICES: Array<{ label: string; sec: number | undefined }> = [
  { label: "Never (until unfrozen)", sec: undefined },
  { label: "5 minutes", sec: 5 * 60 },
  { label: "15 minutes", sec: 15 * 60 },
  { label: "1 hour", sec: 3600 },
  { label: "4 hours", sec: 4 * 3600 },
  { label: "24 hours", sec: 24 * 3600 },
];

/** SuperAdmin only. Validation messages are the server's (zod issues per field). */
export function FreezeForm({ freeze }: { freeze: FreezeMutation }) {
  const [reason, setReason] = useState("");
  const [scope, setScope] = useState<TEmergencyScope>("global");
  const [expiry, setExpiry] = useState(0);
  const [confirm, setConfirm] = useState("");
  const headingId = useId();
  const { fields, formError } = submitErrorsOf(freeze);
  const confirmed = confirm.trim() === CONFIRM_WORD;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!confirmed) return;
    const expiresInSec = EXPIRY_CHOICES[expiry]?.sec;
    freeze.mutate(
      { reason, scope, ...(expiresInSec !== undefined ? { expiresInSec } : {}) },
      {
        onSuccess: () => {
          setReason("");
          setConfirm("");
        },
      },
    );
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>Freeze</h2>
      <form className="form emergency-form" onSubmit={onSubmit} noValidate aria-label="Freeze">
        <Field label="Reason" error={fields.reason} hint="3 to 500 characters.">
          {(control) => (
            <textarea
              {...control}
              value={reason}
              maxLength={500}
              placeholder="What is happening? This goes into the audit trail and the banner."
              onChange={(e) => setReason(e.target.value)}
            />
          )}
        </Field>
        <div className="field-row">
          <Field label="Scope" error={fields.scope}>
            {(control) => (
              <select {...control} value={scope} onChange={(e) => setScope(e.target.value as TEmergencyScope)}>
                {EMERGENCY_SCOPES.map((s) => <option key={s} value={s}>{scopeLabel(s)}</option>)}
              </select>
            )}
          </Field>
          <Field label="Lift automatically">
            {(control) => (
              <select {...control} value={expiry} onChange={(e) => setExpiry(Number(e.target.value))}>
                {EXPIRY_CHOICES.map((c, i) => <option key={c.label} value={i}>{c.label}</option>)}
              </select>
            )}
          </Field>
          <Field label={`Type ${CONFIRM_WORD} to confirm`} className="emergency-confirm">
            {(control) => <input {...control} value={confirm} autoComplete="off" spellCheck={false} onChange={(e) => setConfirm(e.target.value)} />}
          </Field>
        </div>
        <div>
          <button type="submit" className="btn btn-danger" disabled={!confirmed || freeze.isPending}>
            {freeze.isPending ? "Freezing…" : scope === "global" ? "Freeze everything" : `Freeze: ${scopeLabel(scope)}`}
          </button>
        </div>
      </form>
      <FormError message={formError} />
    </section>
  );
}
