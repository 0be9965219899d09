/**
 * Tells a database that cannot take a statement now (down, restarting, unreachable, out of
 * connections, a pool or transaction wait that ran out) from a statement that failed on its
 * own. The first kind is the server's passing state, not the caller's mistake nor a bug: the
 * same request may succeed in a moment, so transports answer it with a 503 and Retry-After
 * instead of a 500 (http/error-map.ts).
 */
import { Prisma } from "../generated/prisma/client.ts";

/**
 * Prisma's codes for "could not reach or keep the database": P1001 unreachable, P1002 timed
 * out reaching it, P1008 operation timed out, P1017 server closed the connection, P2024 pool
 * wait timed out, P2028 a transaction could not start within its wait, P2037 too many
 * connections. Configuration failures (P1000 authentication, P1003 no such database, P1010
 * access denied, P1011 TLS) also leave every statement failing until an operator acts; they
 * are the same state for a caller.
 */
const UNAVAILABLE_CODES = new Set(["P1000", "P1001", "P1002", "P1003", "P1008", "P1010", "P1011", "P1017", "P2024", "P2028", "P2037"]);

/**
 * SQLSTATE classes PostgreSQL answers when it cannot serve: 08 connection exception, 53
 * insufficient resources (too many connections, disk full), 57P operator intervention
 * (shutting down, starting up, restarting after a crash).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;

/**
 * node-postgres fails a query without a code when its connection is cut or cannot be made in
 * time, and the PostgreSQL adapter passes such errors on as they are; PGlite's own when it
 * has been closed (a query racing shutdown). Their messages are all they carry.
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
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    return UNAVAILABLE_CODES.has(error.code) || UNAVAILABLE_SQLSTATE.test(sqlStateOf(error) ?? "");
  }
  // Socket errors (ECONNREFUSED…) come wrapped as P1001/P1017 above; a bare one may be Redis's.
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== undefined) return false;
  return UNAVAILABLE_MESSAGES.some((text) => error.message.startsWith(text));
}

/** The PostgreSQL error code the driver adapter kept, when the failure came from the server. */
function sqlStateOf(error: Prisma.PrismaClientKnownRequestError): string | undefined {
  const adapterError = (error.meta as { driverAdapterError?: { cause?: { originalCode?: unknown } } } | undefined)?.driverAdapterError;
  const code = adapterError?.cause?.originalCode;
  return typeof code === "string" ? code : undefined;
}
