import { z } from "zod";

/** Roles are ordered: each role can do everything the roles before it can. */
export const ROLES = ["USER", "ADMIN", "SUPERADMIN"] as const;
export const ZRole = z.enum(ROLES);
export type TRole = z.infer<typeof ZRole>;

export function roleAtLeast(role: TRole, required: TRole): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

export const ZId = z.string().uuid();

export const TRPC_LIMITS = {
  /**
   * Calls in one tRPC batch (one HTTP request, or one WebSocket message); a larger batch is
   * refused whole with 400. Per-request limits (the per-IP limit, load shedding) count a
   * batch once, so its size is what bounds the work one request can ask for.
   */
  maxBatchSize: 100,
} as const;

/**
 * A z.enum whose refusal names the bad value and every allowed one, since the admin shows
 * the server's message next to the field as it is.
 */
export function namedEnum<const T extends readonly [string, ...string[]]>(values: T, noun: string) {
  return z.enum(values, {
    error: (issue) => `Unknown ${noun} ${JSON.stringify(issue.input)}; expected one of ${values.join(", ")}`,
  });
}

/** Cursor pagination shared by every list procedure. */
export const ZPageInput = z.object({
  cursor: z.string().min(1).max(200).optional(),
  limit: z.number().int().min(1).max(100).default(20),
});
export type TPageInput = z.infer<typeof ZPageInput>;

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** Application error codes carried in `error.data.appCode`. */
export const APP_ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "METHOD_NOT_ALLOWED",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "UNPROCESSABLE",
  "TOO_MANY_REQUESTS",
  "EMERGENCY_STOP",
  "SERVICE_UNAVAILABLE",
  "UPSTREAM_ERROR",
  "INTERNAL",
] as const;
export type TAppErrorCode = (typeof APP_ERROR_CODES)[number];
