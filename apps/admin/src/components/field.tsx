import { useId, type ReactNode } from "react";

/** What a `Field` hands its control so label, message and screen readers line up. */
export interface FieldControlProps {
  id: string;
  "aria-invalid": true | undefined;
  "aria-describedby": string | undefined;
}

/**
 * One labelled form control with the server's message for it (or a hint while there is
 * none). The control is a render prop because fields differ in element (input, textarea,
 * select) but must all get the same id and aria wiring.
 */
export function Field({ label, error, hint, className, children }: {
  label: ReactNode;
  error?: string | undefined;
  hint?: ReactNode;
  className?: string;
  children: (control: FieldControlProps) => ReactNode;
}) {
  const id = useId();
  const messageId = error ? `${id}-err` : hint ? `${id}-hint` : undefined;
  return (
    <div className={className ? `field ${className}` : "field"}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": messageId })}
      {error ? (
        <p id={messageId} className="field-error">{error}</p>
      ) : hint ? (
        <p id={messageId} className="field-hint">{hint}</p>
      ) : null}
    </div>
  );
}

/** The message of a failed submit that belongs to no single field. */
export function FormError({ message }: { message: string | null | undefined }) {
  return message ? <p className="alert alert-error" role="alert">{message}</p> : null;
}
