import type { TBudgetPeriod, TKeyScope, TRole } from "@switchboard/schema";

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

/** Why a key may not do something, naming what is missing; undefined when it may. */
export function keyRefusal(grant: KeyGrant, need: { scope?: TKeyScope | "any" | undefined; model?: string | undefined }): string | undefined {
  if (need.scope === undefined) return "API keys cannot call this; sign in instead";
  if (need.scope !== "any" && !grant.scopes.includes(need.scope)) return `API key lacks scope "${need.scope}"`;
  if (need.model !== undefined && grant.models.length > 0 && !grant.models.includes(need.model)) {
    return `API key may not use model "${need.model}" (allowed: ${grant.models.join(", ")})`;
  }
  return undefined;
}
