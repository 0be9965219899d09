import { useId, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf } from "../../lib/errors.ts";
import type { UnfreezeMutation } from "./emergency-data.ts";

/** SuperAdmin only; shown while frozen. Lifting needs no typed confirmation: it is the safe way out. */
export function UnfreezeForm({ unfreeze }: { unfreeze: UnfreezeMutation }) {
  const [reason, setReason] = useState("");
  const ids = { heading: useId(), reason: useId() };
  const fields = unfreeze.isError ? fieldErrorsOf(unfreeze.error) : {};
  const formError = unfreeze.isError && Object.keys(fields).length === 0 ? messageOf(unfreeze.error) : null;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = reason.trim();
    unfreeze.mutate(trimmed ? { reason: trimmed } : {}, {
      onSuccess: () => setReason(""),
    });
  };

  return (
    <section className="card" aria-labelledby={ids.heading}>
      <h2 id={ids.heading}>Unfreeze</h2>
      <form className="form emergency-form form-inline emergency-unfreeze" onSubmit={onSubmit} noValidate aria-label="Unfreeze">
        <div className="field field-grow">
          <label htmlFor={ids.reason}>Reason (optional)</label>
          <input
            id={ids.reason}
            value={reason}
            maxLength={500}
            placeholder="e.g. provider fixed, costs back to normal"
            onChange={(e) => setReason(e.target.value)}
            aria-invalid={fields.reason ? true : undefined}
          />
          {fields.reason ? <p className="field-error">{fields.reason}</p> : null}
        </div>
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={unfreeze.isPending}>
            {unfreeze.isPending ? "Unfreezing…" : "Unfreeze"}
          </button>
        </div>
      </form>
      {formError ? <p className="alert alert-error" role="alert">{formError}</p> : null}
    </section>
  );
}
