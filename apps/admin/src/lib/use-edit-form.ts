import { useState } from "react";

/**
 * The state of a page whose one form creates an item or edits the chosen one: which item is
 * being edited (null: a new one), and the form's React key. The key changes after each save,
 * so the form mounts again empty: no typed secret (an API key) stays in the page.
 */
export function useEditForm<T>(idOf: (item: T) => string) {
  const [editing, setEditing] = useState<T | null>(null);
  const [round, setRound] = useState(0);
  return {
    editing,
    edit: setEditing,
    formKey: `${editing ? idOf(editing) : "new"}-${round}`,
    /** After a save: back to an empty "new" form. */
    saved() {
      setEditing(null);
      setRound((n) => n + 1);
    },
  };
}
