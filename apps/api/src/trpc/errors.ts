import { TRPCError } from "@trpc/server";
/**
 * The tRPC dialect of the error table (http/error-map.ts): an AppError becomes the TRPCError
 * of its row, and `error.data` carries appCode, details and flattened zod issues.
 */
import { ZodError, z } from "zod";
import { describeError, ERROR_TABLE, errorHeaders, zodSummary } from "../http/error-map.ts";
import { isDatabaseUnavailable } from "../infra/database-errors.ts";
import { SESSION_ENDED_MESSAGE } from "../services/auth/credential-watch.ts";
import { AppError, databaseUnavailable } from "../services/errors.ts";

/** The role guard's own messages, so tests can tell a guard refusal from a service's 401. */
export const GUARD_MESSAGES = { unauthenticated: "Sign in first", forbiddenPrefix: "Requires role" } as const;

/**
 * A call or running stream whose caller's session or API key has ended (signed out, revoked,
 * disabled, role changed): the same words on every transport; a socket is then closed.
 */
export const sessionEndedError = () => new TRPCError({ code: "UNAUTHORIZED", message: SESSION_ENDED_MESSAGE });

export const isSessionEnded = (error: unknown): boolean =>
  error instanceof TRPCError && error.code === "UNAUTHORIZED" && error.message === SESSION_ENDED_MESSAGE;

/** Converts whatever a service threw into the TRPCError the client will see. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (isDatabaseUnavailable(error)) return toTRPCError(databaseUnavailable(error));
  if (error instanceof AppError) {
    return new TRPCError({ code: ERROR_TABLE[error.code].trpc, message: error.message, cause: error });
  }
  if (error instanceof ZodError) {
    return new TRPCError({ code: "BAD_REQUEST", message: zodSummary(error, "input"), cause: error });
  }
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "Internal error", cause: error });
}

/**
 * The message a client sees. tRPC refuses a procedure's input with zod's whole JSON dump as
 * the message; that becomes one readable line (the issues stay in `data.zodError`). Messages
 * written on purpose, even with a zod cause, are kept.
 */
export function publicMessage(error: TRPCError): string {
  const cause = error.cause;
  return cause instanceof ZodError && error.message === cause.message ? zodSummary(cause, "input") : error.message;
}

export function appErrorOf(error: { cause?: unknown }): AppError | undefined {
  return error.cause instanceof AppError ? error.cause : undefined;
}

/** The extra `data` fields of an error shape: app code, details, flattened zod issues. */
export function errorData(error: TRPCError): Record<string, unknown> {
  const app = appErrorOf(error);
  const zod = error.cause instanceof ZodError ? error.cause : undefined;
  return {
    appCode: app?.code ?? error.code,
    ...(app?.details ?? {}),
    ...(app?.retryAfterSec !== undefined ? { retryAfterSec: app.retryAfterSec } : {}),
    zodError: zod ? z.flattenError(zod) : null,
  };
}

/** Retry-After and x-should-retry for a response carrying these procedure errors. */
export function procedureErrorHeaders(errors: ReadonlyArray<{ cause?: unknown }>): Record<string, string> {
  const app = errors.map(appErrorOf).find((e) => e !== undefined);
  return app ? errorHeaders(describeError(app)) : {};
}
