/**
 * What a freeze blocks: pure functions of the state, no I/O, so the guard can run on every
 * request without a network round trip and the rules can be unit-tested exhaustively.
 */
import type { TEmergencyScope, TEmergencyStatus } from "@switchboard/schema";
import { AppError } from "../errors.ts";

/** Something a request or a stream is about to use. */
export type EmergencyTarget =
  /** A tRPC procedure by dotted path, e.g. "chat.stream". */
  | { kind: "procedure"; path: string }
  /** A non-tRPC HTTP route by URL path (no query), e.g. "/v1/chat/completions". */
  | { kind: "http"; path: string }
  /** A provider about to be called from a fallback chain (or a consensus fan-out). */
  | { kind: "provider"; id: string };

/** Procedures that keep answering during any freeze (DESIGN.md): how operators get out. */
const ALLOWED_PROCEDURES = new Set(["emergency.status", "emergency.watch", "emergency.unfreeze"]);
const ALLOWED_PROCEDURE_PREFIXES = ["auth.", "health."];

/** REST aliases that must keep working while frozen (status for dashboards, unfreeze to exit). */
const ALLOWED_HTTP_PATHS = new Set([
  "/api/admin/emergency/status",
  "/api/admin/emergency/unfreeze",
  "/api/health",
  // Answers through metrics.summary, whose own guard decides (ADMIN observability).
  "/api/metrics",
]);
/**
 * Only these HTTP prefixes are guarded by the HTTP hook. Everything else that is not /trpc
 * (/health, /ready, /metrics, the SPA files) stays up; /trpc is guarded per procedure.
 */
const GUARDED_HTTP_PREFIXES = ["/v1/", "/api/", "/ws/"];

/** Seconds a client is told to wait when a freeze has no expiry. */
export const DEFAULT_RETRY_AFTER_SEC = 30;

export function isAllowlistedProcedure(path: string): boolean {
  return ALLOWED_PROCEDURES.has(path) || ALLOWED_PROCEDURE_PREFIXES.some((p) => path.startsWith(p));
}

function normalizeHttpPath(path: string): string {
  const bare = path.split("?")[0] ?? path;
  return bare.length > 1 && bare.endsWith("/") ? bare.slice(0, -1) : bare;
}

/** Does a freeze of `scope` stop `target`? (Ignores whether the freeze is active.) */
export function scopeBlocks(scope: TEmergencyScope, target: EmergencyTarget): boolean {
  switch (target.kind) {
    case "procedure": {
      if (isAllowlistedProcedure(target.path)) return false;
      if (scope === "global") return true;
      if (scope === "chat") return target.path.startsWith("chat.");
      if (scope === "consensus") return target.path.startsWith("consensus.");
      return false; // provider scopes take a provider out of chains; the feature keeps serving
    }
    case "http": {
      const path = normalizeHttpPath(target.path);
      if (ALLOWED_HTTP_PATHS.has(path)) return false;
      if (!GUARDED_HTTP_PREFIXES.some((p) => path.startsWith(p) || `${path}/` === p)) return false;
      if (scope === "global") return true;
      // /v1 is the OpenAI-compatible chat surface, /ws/chat the WebSocket one.
      if (scope === "chat") return path.startsWith("/v1/") || path === "/v1" || path === "/ws/chat";
      return false;
    }
    case "provider":
      return scope === "global" || scope === `provider:${target.id}`;
  }
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
