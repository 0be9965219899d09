import { KEY_SCOPES, type TBudgetPeriod, type TKeyScope, type TRole } from "@switchboard/schema";

/** What an API key lets its holder do: the owner's identity, narrowed. */
export interface KeyGrant {
  keyId: string;
  userId: string;
  email: string;
  /** The owner's current role: a key never acts with more. */
  role: TRole;
  scopes: readonly TKeyScope[];
  /** Model names the key may ask for; empty = any. */
  models: readonly string[];
  rateLimitPerMin: number | null;
  budgetUsd: number | null;
  budgetPeriod: TBudgetPeriod;
  /** Epoch ms, or null for no expiry. */
  expiresAtMs: number | null;
}

/** A key left with every scope (the default): it acts as its owner, narrowed only by its models. */
function unrestricted(grant: KeyGrant): boolean {
  return KEY_SCOPES.every((scope) => grant.scopes.includes(scope));
}

/**
 * What a procedure or route asks of an API key: one scope; "any" (every key); "none" (no key:
 * keys are managed by a signed-in person, so a leaked key cannot outlive its revocation or
 * mint one without its limits); absent: a key with every scope.
 */
export type KeyAccess = TKeyScope | "any" | "none";

/**
 * Why a key may not do something, naming what is missing; undefined when it may. A call no
 * scope covers (managing keys, users, providers, models, the emergency stop) takes a key with
 * every scope: such a key acts as its owner, as the owner's token would; a key narrowed to
 * some scopes stays within them.
 */
export function keyRefusal(grant: KeyGrant, need: { scope?: KeyAccess | undefined; model?: string | undefined }): string | undefined {
  if (need.scope === "none") return "API keys cannot manage API keys; sign in instead";
  if (need.scope === undefined) {
    return unrestricted(grant) ? undefined : `API key is limited to scopes ${grant.scopes.map((s) => `"${s}"`).join(", ")}; this needs a key with every scope, or a sign-in`;
  }
  if (need.scope !== "any" && !grant.scopes.includes(need.scope)) return `API key lacks scope "${need.scope}"`;
  if (need.model !== undefined && grant.models.length > 0 && !grant.models.includes(need.model)) {
    return `API key may not use model "${need.model}" (allowed: ${grant.models.join(", ")})`;
  }
  return undefined;
}
