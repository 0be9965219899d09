import { DEFAULT_KEY_SCOPES, type TBudgetPeriod, type TKeyScope, type TRole } from "@switchboard/schema";

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
  /** Tags its requests carry in the request log. */
  tags: readonly string[];
  rateLimitPerMin: number | null;
  budgetUsd: number | null;
  budgetPeriod: TBudgetPeriod;
  /** Epoch ms, or null for no expiry. */
  expiresAtMs: number | null;
}

/** A key left with every default scope, not narrowed to some (`write:config` neither needed nor enough). */
function everyScope(grant: KeyGrant): boolean {
  return DEFAULT_KEY_SCOPES.every((scope) => grant.scopes.includes(scope));
}

/**
 * What a procedure or route asks of an API key: a scope, or one of several; "any" (every key);
 * "owner" (a key with every default scope, acting as its owner: the emergency stop, which a
 * script or an alert hook pulls); absent: no key. Absent is the default so that nothing is
 * open to keys by mistake: managing keys and users needs a signed-in person (a leaked key must
 * not mint keys or take over its owner's account, and so outlive its revocation); providers
 * and models take only a SuperAdmin's key that was given `write:config` by name.
 */
export type KeyAccess = TKeyScope | readonly TKeyScope[] | "any" | "owner";

/**
 * Why a key may not do something, naming what is missing; undefined when it may. `models`: every
 * model name the call asks for, as /v1 spells them (see `modelsAsked` for a tRPC call).
 */
export function keyRefusal(grant: KeyGrant, need: { scope?: KeyAccess | undefined; models?: readonly string[] | undefined }): string | undefined {
  if (need.scope === undefined) return "API keys cannot call this; sign in instead";
  if (need.scope === "owner") {
    return everyScope(grant) ? undefined : `API key is limited to scopes ${grant.scopes.map((s) => `"${s}"`).join(", ")}; this needs a key with every default scope`;
  }
  if (need.scope !== "any") {
    const wanted: readonly TKeyScope[] = typeof need.scope === "string" ? [need.scope] : need.scope;
    if (!wanted.some((scope) => grant.scopes.includes(scope))) return `API key lacks scope ${wanted.map((s) => `"${s}"`).join(" or ")}`;
  }
  const refused = grant.models.length > 0 ? need.models?.find((model) => !grant.models.includes(model)) : undefined;
  if (refused !== undefined) return `API key may not use model "${refused}" (allowed: ${grant.models.join(", ")})`;
  return undefined;
}
