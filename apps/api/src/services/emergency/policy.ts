/**
 * What a freeze blocks: pure functions of the state, no I/O, so the guard can run on every
 * request without a network round trip and the rules can be unit-tested exhaustively.
 */
import { roleAtLeast, type TEmergencyScope, type TEmergencyStatus, type TRole } from "@switchboard/schema";
import { AppError } from "../errors.ts";

/**
 * What a route or procedure belongs to, as far as a freeze is concerned. Each one declares its
 * feature where it is defined (tRPC meta, Fastify route config); the policy below decides by
 * feature alone, so no spelling of a URL or procedure name can change the outcome.
 */
export const FEATURES = [
  /** Conversations and completions: they call models. */
  "chat",
  /** Multi-model runs: they call models. */
  "consensus",
  /** The rest of the model-serving surface (model lists, embeddings, OpenAI dialect). */
  "gateway",
  /** Signing in and out, sessions. */
  "auth",
  /** Liveness, readiness, scraping, the admin SPA's files: never touch a model. */
  "ops",
  /** Watching and lifting the emergency stop: how operators get out of one. */
  "emergency",
  /** Read-only observability for ADMIN and above (metrics, audit trail, request log, usage). */
  "admin-read",
  /** Calls that contain a leak: revoking keys, disabling or deleting users, resetting passwords. */
  "containment",
  /** Everything else that manages Switchboard (users, keys, providers, models, freezing). */
  "admin",
] as const;
export type Feature = (typeof FEATURES)[number];

/** Something a request or a stream is about to use. */
export type EmergencyTarget =
  /** A feature, for a caller of `role` (null: anonymous or not yet known). */
  | { kind: "feature"; feature: Feature; role?: TRole | null }
  /** A provider about to be called from a fallback chain (or a consensus fan-out). */
  | { kind: "provider"; id: string };

/** Features that keep answering during any freeze. */
const NEVER_FROZEN: ReadonlySet<Feature> = new Set(["auth", "ops", "emergency", "containment"]);

/** What each feature-wide scope stops; `global` stops everything not exempt. */
const STOPPED_BY_SCOPE: Partial<Record<TEmergencyScope, ReadonlySet<Feature>>> = {
  // The OpenAI-compatible surface is a chat surface.
  chat: new Set(["chat", "gateway"]),
  consensus: new Set(["consensus"]),
};

/** Seconds a client is told to wait when a freeze has no expiry. */
export const DEFAULT_RETRY_AFTER_SEC = 30;

/** Does a freeze of `scope` stop `target`? (Ignores whether the freeze is active.) */
export function scopeBlocks(scope: TEmergencyScope, target: EmergencyTarget): boolean {
  if (target.kind === "provider") return scope === "global" || scope === `provider:${target.id}`;
  const { feature } = target;
  if (NEVER_FROZEN.has(feature)) return false;
  if (scope === "global") {
    // An operator needs the dashboard and the audit trail most during an incident, and none
    // of it calls a model; a USER has no business there, frozen or not.
    if (feature === "admin-read") return !(target.role && roleAtLeast(target.role, "ADMIN"));
    return true;
  }
  // Provider scopes take a provider out of chains; every feature keeps serving.
  return STOPPED_BY_SCOPE[scope]?.has(feature) ?? false;
}

/** True while the freeze is in force at `nowMs` (an expired freeze no longer blocks). */
export function isInForce(state: TEmergencyStatus, nowMs: number): boolean {
  if (!state.active) return false;
  return state.expiresAt === null || Date.parse(state.expiresAt) > nowMs;
}

/** The error every refused request gets: 503, appCode EMERGENCY_STOP, reason and Retry-After. */
export function emergencyStopError(state: TEmergencyStatus, nowMs: number): AppError {
  const retryAfterSec =
    state.expiresAt !== null ? Math.max(1, Math.ceil((Date.parse(state.expiresAt) - nowMs) / 1000)) : DEFAULT_RETRY_AFTER_SEC;
  const what = state.scope === "global" ? "Switchboard is frozen" : `Emergency stop (${state.scope})`;
  return new AppError("EMERGENCY_STOP", `${what}: ${state.reason ?? "no reason given"}`, {
    details: {
      reason: state.reason,
      scope: state.scope,
      activatedAt: state.activatedAt,
      activatedBy: state.activatedBy,
      expiresAt: state.expiresAt,
    },
    retryAfterSec: Math.min(retryAfterSec, 3600),
  });
}

/** The refusal for `target` under `state`, or null when it may proceed. */
export function refusalFor(state: TEmergencyStatus, target: EmergencyTarget, nowMs: number): AppError | null {
  if (!isInForce(state, nowMs) || !scopeBlocks(state.scope, target)) return null;
  return emergencyStopError(state, nowMs);
}

/** The state before any freeze, and after an unfreeze. */
export function inactiveState(version: number): TEmergencyStatus {
  return { active: false, scope: "global", reason: null, activatedAt: null, activatedBy: null, expiresAt: null, version };
}
