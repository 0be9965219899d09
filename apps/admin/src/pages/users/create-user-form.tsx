import type { TRole } from "@switchboard/schema";
import { useId, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf } from "../../lib/errors.ts";
import { ROLE_LABELS, ROLES } from "../../lib/roles.ts";
import { useCreateUser } from "./users-data.ts";

/**
 * Validation is the server's: the form sends what was typed and shows the messages from
 * `error.data.zodError.fieldErrors` next to each field, so UI and API never disagree.
 */
export function CreateUserForm({ onCreated }: { onCreated: (email: string, role: TRole) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<TRole>("USER");
  const create = useCreateUser();
  const ids = { email: useId(), password: useId(), role: useId(), heading: useId() };

  const fields = create.isError ? fieldErrorsOf(create.error) : {};
  const formError = create.isError && Object.keys(fields).length === 0 ? messageOf(create.error) : null;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    create.mutate(
      { email, password, role },
      {
        onSuccess: (user) => {
          setEmail("");
          setPassword("");
          setRole("USER");
          onCreated(user.email, user.role);
        },
      },
    );
  };

  const describedBy = (name: keyof typeof ids, hint?: string) =>
    [fields[name] ? `${ids[name]}-err` : null, hint].filter(Boolean).join(" ") || undefined;

  return (
    <section className="card" aria-labelledby={ids.heading}>
      <h2 id={ids.heading}>Add a user</h2>
      <form className="form form-inline" onSubmit={onSubmit} noValidate aria-label="Create user">
        <div className="field field-grow">
          <label htmlFor={ids.email}>Email</label>
          <input
            id={ids.email}
            type="email"
            autoComplete="off"
            placeholder="name@company.com"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            aria-invalid={fields.email ? true : undefined}
            aria-describedby={describedBy("email")}
          />
          {fields.email ? <p id={`${ids.email}-err`} className="field-error">{fields.email}</p> : null}
        </div>
        <div className="field field-grow">
          <label htmlFor={ids.password}>Password</label>
          <input
            id={ids.password}
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={fields.password ? true : undefined}
            aria-describedby={describedBy("password", fields.password ? undefined : `${ids.password}-hint`)}
          />
          {fields.password ? (
            <p id={`${ids.password}-err`} className="field-error">{fields.password}</p>
          ) : (
            <p id={`${ids.password}-hint`} className="field-hint">At least 12 characters.</p>
          )}
        </div>
        <div className="field">
          <label htmlFor={ids.role}>Role</label>
          <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value as TRole)} aria-invalid={fields.role ? true : undefined}
            aria-describedby={describedBy("role")}>
            {ROLES.map((r) => <option key={r} value={r}>{ROLE_LABELS[r]}</option>)}
          </select>
          {fields.role ? <p id={`${ids.role}-err`} className="field-error">{fields.role}</p> : null}
        </div>
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create user"}
          </button>
        </div>
      </form>
      {formError ? <p className="alert alert-error" role="alert">{formError}</p> : null}
    </section>
  );
}
