import type { TRole } from "@switchboard/schema";
import type { KeyAccess } from "../services/keys/index.ts";
import type { Feature } from "../services/emergency/policy.ts";

/**
 * What a procedure declares about itself; guards read it, never the procedure's name.
 * Declare with `.meta({ feature: "chat" })` on the procedure (or on a shared builder).
 */
export interface Meta {
  /** The least role that may call the procedure; read by the role-matrix test and docs. */
  requiredRole?: TRole | "PUBLIC";
  /** What a freeze sees (docs/emergency.md). Undeclared procedures count as "admin". */
  feature?: Feature;
  /**
   * For a procedure that contains a leak only with some inputs (users.update {id, disabled}):
   * true for those raw inputs, which then count as the "containment" feature.
   */
  containsLeak?: (rawInput: unknown) => boolean;
  /**
   * What the procedure asks of an API key (KeyAccess: a scope, "any", "owner"). Without
   * one, API keys are refused (403): keys, users, providers and models need a signed-in person.
   */
  keyScope?: KeyAccess;
  /**
   * Calls a model: counted against an API key's rate limit and budget, and its model list;
   * a cookie-authenticated call must come from an allowed origin even as a query.
   */
  metered?: boolean;
  /**
   * False for procedures that must be the only call of their request (sign-in and token
   * calls): a batch would multiply guesses per request and bypass per-request limits.
   */
  batchable?: boolean;
  /**
   * A request body this procedure takes past the 1 MB every other one keeps (a whole
   * configuration document): it gets its own route, `/trpc/<path>`, with this limit, and the
   * bytes past the first MB draw on the large-body pool (http/body-limits.ts).
   */
  bodyLimitBytes?: number;
}
