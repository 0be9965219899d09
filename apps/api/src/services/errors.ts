import type { TAppErrorCode } from "@switchboard/schema";

/**
 * The one error type services throw. The transports map `code` through one table
 * (http/error-map.ts) to a status and each dialect's shape; services never know about HTTP
 * or tRPC.
 */
export class AppError extends Error {
  readonly code: TAppErrorCode;
  /**
   * Extra fields exposed to clients in `error.data` (never secrets). Two are read by the
   * renderers: `param` (the offending input field) and `shouldRetry` (false: retrying will
   * not help soon).
   */
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

/**
 * A database that cannot take a statement now (infra/database-errors.ts says which failures):
 * the request may succeed as it is in a moment, so a 503 with Retry-After, never a 500.
 */
export function databaseUnavailable(cause: unknown): AppError {
  return new AppError("SERVICE_UNAVAILABLE", "The database is unavailable or busy; try again in a moment", { retryAfterSec: 2, cause });
}

/** Of several refusals, the one that says to retry soonest (the first freeze to end, say). */
export function soonestToRetry(refusals: readonly AppError[]): AppError | undefined {
  return refusals.reduce<AppError | undefined>((best, r) => (best === undefined || (r.retryAfterSec ?? 0) < (best.retryAfterSec ?? 0) ? r : best), undefined);
}

/** A request the instance will not finish or take because it is stopping: retry, elsewhere. */
export function shuttingDown(): AppError {
  return new AppError("SERVICE_UNAVAILABLE", "Switchboard is shutting down; retry the request", { retryAfterSec: 1, details: { reason: "stopping" } });
}
