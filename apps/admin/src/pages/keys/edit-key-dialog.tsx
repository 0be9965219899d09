import type { TApiKey } from "@switchboard/schema";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
import { useUpdateKey } from "../usage-data.ts";

/** Renames a key or changes the tags its requests carry in the log; in force on every instance at the next request. */
export function EditKeyDialog({ apiKey, onClose }: { apiKey: TApiKey; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const update = useUpdateKey();
  const titleId = useId();
  const [name, setName] = useState(apiKey.name);
  const [tags, setTags] = useState(apiKey.tags.join(", "));
  const { fields, formError } = submitErrorsOf(update);

  // Unmounting closes the native dialog.
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const asked = tags.split(",").map((t) => t.trim()).filter(Boolean);
    update.mutate({ id: apiKey.id, name, tags: asked }, { onSuccess: onClose });
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={titleId} onClose={onClose} data-testid="edit-key-dialog">
      <form className="form" onSubmit={submit} noValidate>
        <h2 id={titleId}>Edit API key</h2>
        <Field label="Name" error={fields.name}>
          {(control) => <input {...control} value={name} onChange={(e) => setName(e.target.value)} required />}
        </Field>
        <Field label="Tags" error={fields.tags}>
          {(control) => <input {...control} value={tags} onChange={(e) => setTags(e.target.value)} placeholder="team:search, env=prod" />}
        </Field>
        <p className="muted">Every request made with the key carries its tags in the request log, ahead of the request&apos;s own.</p>
        <FormError message={formError} />
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn btn-primary" disabled={update.isPending || name.trim() === ""}>{update.isPending ? "Saving…" : "Save"}</button>
        </div>
      </form>
    </dialog>
  );
}
