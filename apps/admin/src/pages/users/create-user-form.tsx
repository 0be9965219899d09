import type { TRole } from "@switchboard/schema";
import { useId, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { submitErrorsOf } from "../../lib/errors.ts";
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
  const headingId = useId();
  const { fields, formError } = submitErrorsOf(create);

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

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>Add a user</h2>
      <form className="form form-inline" onSubmit={onSubmit} noValidate aria-label="Create user">
        <Field label="Email" error={fields.email} className="field-grow">
          {(control) => (
            <input {...control} type="email" autoComplete="off" placeholder="name@company.com" value={email} onChange={(e) => setEmail(e.target.value)} />
          )}
        </Field>
        <Field label="Password" error={fields.password} hint="At least 12 characters." className="field-grow">
          {(control) => (
            <input {...control} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          )}
        </Field>
        <Field label="Role" error={fields.role}>
          {(control) => (
            <select {...control} value={role} onChange={(e) => setRole(e.target.value as TRole)}>
              {ROLES.map((r) => <option key={r} value={r}>{ROLE_LABELS[r]}</option>)}
            </select>
          )}
        </Field>
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create user"}
          </button>
        </div>
      </form>
      <FormError message={formError} />
    </section>
  );
}
