import type { TUser } from "@switchboard/schema";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { fieldErrorsOf, messageOf } from "../../lib/errors.ts";
import { useUpdateUser } from "./users-data.ts";
import { DialogActions } from "../../components/dialog-actions.tsx";

/** Modal (native <dialog>: focus trap and Escape for free) to set a new password for a user. */
export function ResetPasswordDialog({ user, onClose, onDone }: { user: TUser; onClose: () => void; onDone: (email: string, keysRevoked: boolean) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [password, setPassword] = useState("");
  // Off by default: programs rely on keys; a password that leaked may have made some.
  const [revokeKeys, setRevokeKeys] = useState(false);
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
    update.mutate({ id: user.id, password, ...(revokeKeys ? { revokeKeys: true as const } : {}) }, { onSuccess: () => onDone(user.email, revokeKeys) });
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
        <label className="check">
          <input type="checkbox" checked={revokeKeys} onChange={(e) => setRevokeKeys(e.target.checked)} />
          Also revoke their API keys (a leaked password may have made some; programs using them stop)
        </label>
        <FormError message={formError} />
        <DialogActions onCancel={onClose} pending={update.isPending} submitLabel="Set password" />
      </form>
    </dialog>
  );
}
