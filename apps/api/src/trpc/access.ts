/**
 * Whether a caller is one a procedure's guards let through, read from its meta alone: its
 * least role (`requiredRole`) and what it asks of an API key (`keyScope`). The guards
 * (init.ts `requireRole`) and the check before a large body is read (http/large-body-holder.ts)
 * both ask here, so who may call a procedure is said once, by its meta.
 */
import { roleAtLeast, type TRole } from "@switchboard/schema";
import { keyRefusal } from "../services/keys/index.ts";
import type { AuthedUser } from "./context.ts";
import { GUARD_MESSAGES } from "./errors.ts";
import type { Meta } from "./meta.ts";

/** Why `user`'s role is short of `required`; undefined when it is not. */
export function roleRefusal(user: AuthedUser, required: TRole): string | undefined {
  return roleAtLeast(user.role, required) ? undefined : `${GUARD_MESSAGES.forbiddenPrefix} ${required}`;
}

/**
 * Why the guards would refuse `user` a procedure with `meta`, whatever its input (a key's
 * model list is the input's to test); undefined when they would not.
 */
export function callerRefusal(user: AuthedUser, meta: Meta): string | undefined {
  const required = meta.requiredRole ?? "PUBLIC";
  if (required === "PUBLIC") return undefined;
  return roleRefusal(user, required) ?? (user.apiKey ? keyRefusal(user.apiKey, { scope: meta.keyScope }) : undefined);
}
