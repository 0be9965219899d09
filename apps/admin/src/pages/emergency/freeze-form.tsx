import { EMERGENCY_SCOPES, type TEmergencyScope } from "@switchboard/schema";
import { useId, useState, type FormEvent } from "react";
import { scopeLabel } from "../../lib/emergency-status.ts";
import { fieldErrorsOf, messageOf } from "../../lib/errors.ts";
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
  const ids = { heading: useId(), reason: useId(), scope: useId(), expiry: useId(), confirm: useId() };

  const fields = freeze.isError ? fieldErrorsOf(freeze.error) : {};
  const formError = freeze.isError && Object.keys(fields).length === 0 ? messageOf(freeze.error) : null;
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
    <section className="card" aria-labelledby={ids.heading}>
      <h2 id={ids.heading}>Freeze</h2>
      <form className="form emergency-form" onSubmit={onSubmit} noValidate aria-label="Freeze">
        <div className="field">
          <label htmlFor={ids.reason}>Reason</label>
          <textarea
            id={ids.reason}
            value={reason}
            maxLength={500}
            placeholder="What is happening? This goes into the audit trail and the banner."
            onChange={(e) => setReason(e.target.value)}
            aria-invalid={fields.reason ? true : undefined}
            aria-describedby={fields.reason ? `${ids.reason}-err` : `${ids.reason}-hint`}
          />
          {fields.reason ? (
            <p id={`${ids.reason}-err`} className="field-error">{fields.reason}</p>
          ) : (
            <p id={`${ids.reason}-hint`} className="field-hint">3 to 500 characters.</p>
          )}
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor={ids.scope}>Scope</label>
            <select id={ids.scope} value={scope} onChange={(e) => setScope(e.target.value as TEmergencyScope)} aria-invalid={fields.scope ? true : undefined}>
              {EMERGENCY_SCOPES.map((s) => <option key={s} value={s}>{scopeLabel(s)}</option>)}
            </select>
            {fields.scope ? <p className="field-error">{fields.scope}</p> : null}
          </div>
          <div className="field">
            <label htmlFor={ids.expiry}>Lift automatically</label>
            <select id={ids.expiry} value={expiry} onChange={(e) => setExpiry(Number(e.target.value))}>
              {EXPIRY_CHOICES.map((c, i) => <option key={c.label} value={i}>{c.label}</option>)}
            </select>
          </div>
          <div className="field emergency-confirm">
            <label htmlFor={ids.confirm}>Type {CONFIRM_WORD} to confirm</label>
            <input id={ids.confirm} value={confirm} autoComplete="off" spellCheck={false} onChange={(e) => setConfirm(e.target.value)} />
          </div>
        </div>
        <div>
          <button type="submit" className="btn btn-danger" disabled={!confirmed || freeze.isPending}>
            {freeze.isPending ? "Freezing…" : scope === "global" ? "Freeze everything" : `Freeze: ${scopeLabel(scope)}`}
          </button>
        </div>
      </form>
      {formError ? <p className="alert alert-error" role="alert">{formError}</p> : null}
    </section>
  );
}
