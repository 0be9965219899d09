/**
 * Tells a database that cannot take a statement now (down, restarting, unreachable, out of
 * connections, a pool or transaction wait that ran out) from a statement that failed on its
 * own. The first kind is the server's passing state, not the caller's mistake nor a bug: the
 * same request may succeed in a moment, so transports answer it with a 503 and Retry-After
 * instead of a 500 (services/errors.ts, http/error-map.ts).
 * Configuration failures (wrong password, no such database) are not in it: retrying cannot
 * fix them, and they stop the process at start.
 */
import { isDriverAdapterError } from "@prisma/driver-adapter-utils";
import { Prisma } from "../generated/prisma/client.ts";

/**
 * Prisma's codes for "could not reach or keep the database": P1001 unreachable, P1002 timed
 * out reaching it, P1008 operation timed out, P1017 server closed the connection, P2024 pool
 * wait timed out, P2028 a transaction could not start within its wait, P2037 too many
 * connections.
 */
const UNAVAILABLE_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2028", "P2037"]);

/**
 * The same states as the PostgreSQL driver adapter names them. Raw statements ($queryRaw,
 * $executeRaw) fail as P2010 "raw query failed" and carry only this.
 */
const UNAVAILABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);

/**
 * SQLSTATEs PostgreSQL answers when it cannot serve now: connection failures (08000, 08001,
 * 08003, 08004, 08006 — not 08P01, a protocol violation our statement caused), too many
 * connections (53300), an operator or a crash ending sessions (57P01 shutdown, 57P02
 * crash, 57P03 starting up, 57P05 idle session ended), and a statement the server cancelled
 * (57014: an operator's statement_timeout or pg_cancel_backend) or that could not take a lock
 * in time (55P03, lock_timeout): busy, not wrong.
 */
const UNAVAILABLE_SQLSTATES = new Set(["08000", "08001", "08003", "08004", "08006", "53300", "55P03", "57014", "57P01", "57P02", "57P03", "57P05"]);

/**
 * node-postgres fails a statement without a code when its connection is cut or cannot be
 * made in time, and the PostgreSQL adapter passes such errors on as they are; PGlite says so
 * when it has been closed (a statement racing shutdown). Their messages are all they carry.
 */
const UNAVAILABLE_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  "Cannot use a pool after calling end on the pool",
  "PGlite is closing",
  "PGlite is closed",
];

export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return UNAVAILABLE_CODES.has(error.code) || isUnavailableCause(adapterCauseOf(error));
  // A transaction's COMMIT that fails reaches us as the adapter's bare error, not Prisma's.
  if (error instanceof Error && isDriverAdapterError(error)) return isUnavailableCause(error.cause);
  // Socket errors (ECONNREFUSED…) come wrapped as above; a bare one may be Redis's.
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== undefined) return false;
  return UNAVAILABLE_MESSAGES.some((text) => error.message.startsWith(text));
}

function isUnavailableCause(cause: { kind?: unknown; originalCode?: unknown } | undefined): boolean {
  return (typeof cause?.kind === "string" && UNAVAILABLE_KINDS.has(cause.kind)) || (typeof cause?.originalCode === "string" && UNAVAILABLE_SQLSTATES.has(cause.originalCode));
}

/** What the driver adapter said about the failure: its kind, and PostgreSQL's code when the server answered. */
function adapterCauseOf(error: Prisma.PrismaClientKnownRequestError): { kind?: unknown; originalCode?: unknown } | undefined {
  return (error.meta as { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } } | undefined)?.driverAdapterError?.cause;
}

/**
 * A statement the server cancelled (SQLSTATE 57014: a statement_timeout, pg_cancel_backend).
 * Unlike a lost connection, the same statement may be cancelled again every time: a caller
 * that retries it should retry something smaller.
 */
export function isStatementCancelled(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && adapterCauseOf(error)?.originalCode === "57014";
}

/**
 * What a log line says of a statement the server cancelled, naming the bound it most likely
 * ran past: such a request answers the same 503 as a database that is down, but the cure is
 * another (a slow query to look at, a bound to raise), so the log tells them apart.
 */
export const STATEMENT_CANCELLED_NOTE =
  "database statement cancelled: it ran past statement_timeout (DATABASE_STATEMENT_TIMEOUT_MS, or an operator's bound on the role or in DATABASE_URL) or was cancelled by pg_cancel_backend";

/** The log line's words for a failure answered as the database unavailable: `fallback` unless the server cancelled the statement. */
export function unavailableLogLine(error: unknown, fallback: string): string {
  return isStatementCancelled(error) ? `${fallback}: ${STATEMENT_CANCELLED_NOTE}` : fallback;
}

/**
 * A write naming a row that is not there (PostgreSQL's 23503): Prisma's P2003, or a raw
 * statement's failure as the driver adapter names it. For a message, its conversation was
 * deleted meanwhile.
 */
export function isForeignKeyViolation(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  if (error.code === "P2003") return true;
  const cause = adapterCauseOf(error);
  return cause?.kind === "ForeignKeyConstraintViolation" || cause?.originalCode === "23503";
}

/**
 * A transaction PostgreSQL aborted so that a concurrent one could go on (40001 serialization
 * failure, 40P01 deadlock; the adapter calls both TransactionWriteConflict): the caller lost a
 * race, and the same request may succeed once the winner is done. A statement inside the
 * transaction fails as Prisma's P2034; a serializable transaction's COMMIT fails too, and
 * Prisma passes that one on as the adapter's bare DriverAdapterError.
 */
export function isTransactionConflict(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code === "P2034" || isConflictCause(adapterCauseOf(error));
  return error instanceof Error && isDriverAdapterError(error) && isConflictCause(error.cause);
}

function isConflictCause(cause: { kind?: unknown; originalCode?: unknown } | undefined): boolean {
  return cause?.kind === "TransactionWriteConflict" || cause?.originalCode === "40001" || cause?.originalCode === "40P01";
}
