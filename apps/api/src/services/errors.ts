import type { TAppErrorCode } from "@switchboard/schema";

/**
 * The one error type services throw. Transport layers (tRPC's error formatter, the REST
 * routes) map `code` to a status; services never know about HTTP or tRPC.
 */
export class AppError extends Error {
  readonly code: TAppErrorCode;
  /** Extra fields exposed to clients in `error.data` (never secrets). */
  readonly details: Record<string, unknown>;
  /** Seconds a client should wait before retrying (429, 503). */
  readonly retryAfterSec: number | undefined;

  constructor(
    code: TAppErrorCode,
    message: string,
    opts: { details?: Record<string, unknown>; retryAfterSec?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    this.details = opts.details ?? {};
    this.retryAfterSec = opts.retryAfterSec;
  }
}

export const HTTP_STATUS_BY_APP_CODE: Record<TAppErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  EMERGENCY_STOP: 503,
  SERVICE_UNAVAILABLE: 503,
  UPSTREAM_ERROR: 502,
  INTERNAL: 500,
};
