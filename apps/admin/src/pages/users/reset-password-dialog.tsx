import type { TUser } from "@switchboard/schema";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { fieldErrorsOf, messageOf } from "../../lib/errors.ts";
import { useUpdateUser } from "./users-data.ts";
import { DialogActions } from "../../components/dialog-actions.tsx";

/** Modal (native <dialog>: focus trap and Escape for free) to set a new password for a user. */
export function ResetPasswordDialog({ user, onClose, onDone }: { user: TUser; onClose: () => void; onDone: (email: string) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [password, setPassword] = useState("");
  const update = useUpdateUser();
  const titleId = useId();

  // Unmounting removes the element, which closes it; no cleanup needed (and a close() here
  // would fire onClose during StrictMode's mount-unmount-mount check).
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  const fieldError = update.isError ? fieldErrorsOf(update.error).password : undefined;
  const formError = update.isError && !fieldError ? messageOf(update.error) : null;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    update.mutate({ id: user.id, password }, { onSuccess: () => onDone(user.email) });
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={titleId} onClose={onClose}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <h2 id={titleId}>Reset password</h2>
        <p className="muted">
          Set a new password for <strong>{user.email}</strong>. Their open sessions are signed out.
        </p>
        {/* Lets password managers file the new password under the right account. */}
        <input type="text" name="username" autoComplete="username" value={user.email} readOnly hidden />
        <Field label="New password" error={fieldError} hint="At least 12 characters.">
          {(control) => (
            <input {...control} type="password" autoComplete="new-password" autoFocus value={password} onChange={(e) => setPassword(e.target.value)} />
          )}
        </Field>
        <FormError message={formError} />
        <DialogActions onCancel={onClose} pending={update.isPending} submitLabel="Set password" />
      </form>
    </dialog>
  );
}
