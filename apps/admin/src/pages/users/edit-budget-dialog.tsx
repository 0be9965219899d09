import type { TUser } from "@switchboard/schema";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { BudgetFields, budgetDraftOf, NOT_AN_AMOUNT, parseBudgetAmount } from "../../components/budget-fields.tsx";
import { FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
import { useUpdateBudget } from "./users-data.ts";
import { DialogActions } from "../../components/dialog-actions.tsx";

/**
 * Sets or clears a user's spending cap. The amount goes to the server as typed (an empty
 * field clears the cap) and its validation messages show under the fields.
 */
export function EditBudgetDialog({ user, onClose, onDone }: { user: TUser; onClose: () => void; onDone: (user: TUser) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [draft, setDraft] = useState(() => budgetDraftOf(user));
  const [amountError, setAmountError] = useState<string | undefined>();
  const update = useUpdateBudget();
  const titleId = useId();
  const { fields, formError } = submitErrorsOf(update);

  // See ResetPasswordDialog: unmounting closes the native dialog.
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const budgetUsd = parseBudgetAmount(draft.amount);
    setAmountError(budgetUsd === undefined ? NOT_AN_AMOUNT : undefined);
    if (budgetUsd === undefined) return;
    update.mutate({ id: user.id, budgetUsd, budgetPeriod: draft.period }, { onSuccess: onDone });
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={titleId} onClose={onClose}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <h2 id={titleId}>Edit budget</h2>
        <p className="muted">
          Caps what <strong>{user.email}</strong> spends on model calls, through any of their API keys or sessions. Once it is
          spent, their calls are refused until the period ends (UTC).
        </p>
        <div className="budget-dialog-fields">
          <BudgetFields
            value={draft}
            onChange={setDraft}
            errors={{ budgetUsd: amountError ?? fields.budgetUsd, budgetPeriod: fields.budgetPeriod }}
            amountHint="Leave empty for no budget."
          />
        </div>
        <FormError message={formError} />
        <DialogActions onCancel={onClose} pending={update.isPending} submitLabel="Save budget" />
      </form>
    </dialog>
  );
}
