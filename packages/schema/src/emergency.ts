import { z } from "zod";
import { PROVIDER_IDS, PROVIDER_NAME_PATTERN } from "./chat.ts";
import { ZPageInput, pageOf } from "./common.ts";

/**
 * What a freeze covers. `global` stops everything outside the allowlist; `chat` stops
 * chat.* and the OpenAI-compatible /v1 endpoints; `consensus` stops consensus.*;
 * `provider:<name>` takes one provider out of every fallback chain while the rest keep
 * serving (any provider name, including ones created at runtime or not yet created).
 */
export const EMERGENCY_FIXED_SCOPES = ["global", "chat", "consensus"] as const;
/** The scopes offered by default: the fixed ones and the environment's providers. */
export const EMERGENCY_SCOPES = [...EMERGENCY_FIXED_SCOPES, ...PROVIDER_IDS.map((id) => `provider:${id}` as const)] as const;
export type TEmergencyScope = (typeof EMERGENCY_FIXED_SCOPES)[number] | `provider:${string}`;
export const ZEmergencyScope = z.custom<TEmergencyScope>(
  (value) =>
    typeof value === "string" &&
    ((EMERGENCY_FIXED_SCOPES as readonly string[]).includes(value) ||
      (value.startsWith("provider:") && PROVIDER_NAME_PATTERN.test(value.slice("provider:".length)))),
  { error: () => `Unknown scope; use one of: ${EMERGENCY_FIXED_SCOPES.join(", ")}, provider:<name>` },
);

export const EMERGENCY_REASON_MIN = 3;
export const EMERGENCY_REASON_MAX = 500;
/** A year: long enough for any planned freeze, short enough to catch a unit mistake (ms). */
export const EMERGENCY_MAX_EXPIRY_SEC = 365 * 24 * 3600;

const ZReason = z
  .string({ error: (issue) => (issue.input === undefined ? "A reason is required" : "The reason must be text") })
  .trim()
  .min(EMERGENCY_REASON_MIN, `The reason must be at least ${EMERGENCY_REASON_MIN} characters`)
  .max(EMERGENCY_REASON_MAX, `The reason must be at most ${EMERGENCY_REASON_MAX} characters`);

export const ZEmergencyFreezeInput = z.object({
  reason: ZReason,
  scope: ZEmergencyScope.default("global"),
  /** Auto-unfreeze after this many seconds (audited as an expiry). */
  expiresInSec: z.number().int().positive().max(EMERGENCY_MAX_EXPIRY_SEC).optional(),
});
export type TEmergencyFreezeInput = z.input<typeof ZEmergencyFreezeInput>;
export type TEmergencyFreezeParsed = z.infer<typeof ZEmergencyFreezeInput>;

export const ZEmergencyUnfreezeInput = z
  .object({ reason: ZReason.optional() })
  .optional()
  .transform((v) => v ?? {});
export type TEmergencyUnfreezeInput = z.input<typeof ZEmergencyUnfreezeInput>;

/** The current state. Dates are ISO strings; `version` grows with every change. */
export const ZEmergencyStatus = z.object({
  active: z.boolean(),
  scope: ZEmergencyScope,
  reason: z.string().nullable(),
  activatedAt: z.string().nullable(),
  /** Email of the SuperAdmin who froze. */
  activatedBy: z.string().nullable(),
  expiresAt: z.string().nullable(),
  version: z.number().int().nonnegative(),
});
export type TEmergencyStatus = z.infer<typeof ZEmergencyStatus>;

/**
 * What freeze/unfreeze answer: the new state plus proof of propagation. `acknowledgedBy`
 * counts instances (this one included) that applied it before the answer was sent;
 * `liveInstances` counts instances heartbeating into coordination.
 */
export const ZEmergencyChangeResult = ZEmergencyStatus.extend({
  /** False when nothing changed (unfreeze while not frozen). */
  changed: z.boolean(),
  acknowledgedBy: z.number().int().nonnegative(),
  liveInstances: z.number().int().nonnegative(),
  /** Live instances that had not acknowledged when the wait ended. */
  pendingInstances: z.array(z.string()),
  /**
   * confirmed: every live instance acknowledged; partial: some did not within the wait;
   * local: coordination is unreachable, so only this instance (and PostgreSQL) has it yet.
   */
  propagation: z.enum(["confirmed", "partial", "local"]),
});
export type TEmergencyChangeResult = z.infer<typeof ZEmergencyChangeResult>;

export const EMERGENCY_ACTIONS = ["freeze", "unfreeze", "expire"] as const;
export const ZEmergencyEvent = z.object({
  id: z.string(),
  action: z.enum(EMERGENCY_ACTIONS),
  scope: z.string(),
  reason: z.string().nullable(),
  actorId: z.string().nullable(),
  actorEmail: z.string().nullable(),
  /** The API instance that received the request (or ran the expiry). */
  instanceId: z.string(),
  acks: z.number().int().nullable(),
  expiresAt: z.string().nullable(),
  createdAt: z.string(),
});
export type TEmergencyEvent = z.infer<typeof ZEmergencyEvent>;

export const ZEmergencyHistoryInput = ZPageInput.optional();
export type TEmergencyHistoryInput = z.infer<typeof ZEmergencyHistoryInput>;
export const ZEmergencyHistoryPage = pageOf(ZEmergencyEvent);
export type TEmergencyHistoryPage = z.infer<typeof ZEmergencyHistoryPage>;
