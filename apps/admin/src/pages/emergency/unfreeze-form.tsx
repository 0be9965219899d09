import { useId, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
import type { UnfreezeMutation } from "./emergency-data.ts";

/** SuperAdmin only; shown while frozen. Lifting needs no typed confirmation: it is the safe way out. */
export function UnfreezeForm({ unfreeze }: { unfreeze: UnfreezeMutation }) {
  const [reason, setReason] = useState("");
  const headingId = useId();
  const { fields, formError } = submitErrorsOf(unfreeze);

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = reason.trim();
    unfreeze.mutate(trimmed ? { reason: trimmed } : {}, {
      onSuccess: () => setReason(""),
    });
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>Unfreeze</h2>
      <form className="form emergency-form form-inline emergency-unfreeze" onSubmit={onSubmit} noValidate aria-label="Unfreeze">
        <Field label="Reason (optional)" error={fields.reason} className="field-grow">
          {(control) => (
            <input
              {...control}
              value={reason}
              maxLength={500}
              placeholder="e.g. provider fixed, costs back to normal"
              onChange={(e) => setReason(e.target.value)}
            />
          )}
        </Field>
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={unfreeze.isPending}>
            {unfreeze.isPending ? "Unfreezing…" : "Unfreeze"}
          </button>
        </div>
      </form>
      <FormError message={formError} />
    </section>
  );
}
