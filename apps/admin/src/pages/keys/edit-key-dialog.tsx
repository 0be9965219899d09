import type { TApiKey } from "@switchboard/schema";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
import { useUpdateKey } from "../usage-data.ts";
import { useCurrentUser } from "../../lib/session.tsx";
import { KeySettingsFields, changedSettings, keyDraftOf, keySettingsOf, scopesOffered, type DraftErrors } from "./key-settings.tsx";

/**
 * Changes a key's settings — name, scopes, rate limit, models, tags, budget — in force on
 * every instance at its next request; the secret stays the same.
 */
export function EditKeyDialog({ apiKey, onClose }: { apiKey: TApiKey; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const update = useUpdateKey();
  const user = useCurrentUser();
  const titleId = useId();
  const [draft, setDraft] = useState(() => keyDraftOf(apiKey));
  const [draftErrors, setDraftErrors] = useState<DraftErrors>({});
  const { fields, formError } = submitErrorsOf(update);

  // Unmounting closes the native dialog.
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const read = keySettingsOf(draft);
    setDraftErrors("errors" in read ? read.errors : {});
    if ("errors" in read) return;
    // What was changed: an emptied field clears its setting (no limit, no budget, any model).
    const changed = changedSettings(apiKey, read.settings);
    if (Object.keys(changed).length === 0) return onClose();
    update.mutate({ id: apiKey.id, ...changed }, { onSuccess: onClose });
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={titleId} onClose={onClose} data-testid="edit-key-dialog">
      <form className="form" onSubmit={submit} noValidate>
        <h2 id={titleId}>Edit API key</h2>
        <KeySettingsFields draft={draft} onChange={setDraft} errors={{ ...fields, ...draftErrors }} scopes={scopesOffered(user.role, apiKey.owner.role, apiKey.scopes)} />
        <p className="muted">Every request made with the key carries its tags in the request log, ahead of the request&apos;s own. Models: names it may ask for, empty for any.</p>
        <FormError message={formError ?? fields.scopes} />
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn btn-primary" disabled={update.isPending || draft.name.trim() === ""}>{update.isPending ? "Saving…" : "Save"}</button>
        </div>
      </form>
    </dialog>
  );
}
