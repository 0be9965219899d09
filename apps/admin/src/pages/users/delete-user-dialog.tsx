import type { TUser } from "@switchboard/schema";
import { useEffect, useId, useRef } from "react";
import { FormError } from "../../components/field.tsx";
import { messageOf } from "../../lib/errors.ts";
import { useDeleteUser } from "./users-data.ts";

/** Confirmation before deleting a user: it cannot be undone, so the email is spelled out. */
export function DeleteUserDialog({ user, onClose, onDone }: { user: TUser; onClose: () => void; onDone: (email: string) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const remove = useDeleteUser();
  const titleId = useId();

  // See ResetPasswordDialog: unmounting closes the native dialog.
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={titleId} onClose={onClose}>
      <div className="form">
        <h2 id={titleId}>Delete user</h2>
        <p>
          Delete <strong>{user.email}</strong>? Their sessions and API keys end at once on every instance, and their
          conversations and consensus runs are removed. The emergency audit trail keeps their email. This cannot be undone.
        </p>
        <FormError message={remove.isError ? messageOf(remove.error) : null} />
        <div className="dialog-actions">
          <button type="button" className="btn" autoFocus onClick={onClose}>Cancel</button>
          <button
            type="button"
            className="btn btn-danger"
            disabled={remove.isPending}
            onClick={() => remove.mutate({ id: user.id }, { onSuccess: () => onDone(user.email) })}
          >
            {remove.isPending ? "Deleting…" : "Delete user"}
          </button>
        </div>
      </div>
    </dialog>
  );
}
