import { TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError, z } from "zod";
import type { TAppErrorCode } from "@switchboard/schema";
import { AppError } from "../services/errors.ts";

const TRPC_CODE_BY_APP_CODE: Record<TAppErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  EMERGENCY_STOP: "SERVICE_UNAVAILABLE",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  UPSTREAM_ERROR: "BAD_GATEWAY",
  INTERNAL: "INTERNAL_SERVER_ERROR",
};

/** The role guard's own messages, so tests can tell a guard refusal from a service's 401. */
export const GUARD_MESSAGES = { unauthenticated: "Sign in first", forbiddenPrefix: "Requires role" } as const;

/** Converts whatever a service threw into the TRPCError the client will see. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (error instanceof AppError) {
    return new TRPCError({ code: TRPC_CODE_BY_APP_CODE[error.code], message: error.message, cause: error });
  }
  if (error instanceof ZodError) {
    return new TRPCError({ code: "BAD_REQUEST", message: "Invalid input", cause: error });
  }
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "Internal error", cause: error });
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
