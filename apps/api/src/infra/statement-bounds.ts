/**
 * Bounds in time on what a PostgreSQL statement may do, so that no request holds a pooled
 * connection, and itself, without end. Past a bound the server ends the statement and the
 * request answers 503 with Retry-After (database-errors.ts):
 *
 * - lock_timeout: how long a statement may wait for a lock another session holds (a row, a
 *   table, an advisory lock): a session that keeps one — a migration queued behind a long
 *   report, an operator's `psql`, a stuck client — would otherwise hold every request that
 *   needs it for as long as it likes. Ends the statement with 55P03.
 * - statement_timeout (DATABASE_STATEMENT_TIMEOUT_MS, 0 for none): how long a statement may
 *   run at all — a log search over millions of rows, a runaway plan. Ends it with 57014.
 *
 * How they are set:
 * - Every pooled PostgreSQL connection starts with both (`boundSession`, one `SET` when the
 *   pool opens the connection, not a start-up parameter PgBouncer would refuse). Behind
 *   PgBouncer in transaction mode a session setting may not follow a transaction to its server
 *   connection, so:
 * - each transaction that takes locks also sets lock_timeout for itself (`boundLockWaits`,
 *   `SET LOCAL`), with a longer bound where waiting is the transaction's job (a configuration
 *   change waits for a whole document being applied before it). Such a transaction also
 *   raises the statement bound for the statement that waits, and for it alone
 *   (`withStatementBoundRaised`), to that wait and a little more: its lock wait is bounded by
 *   its design, not cut short by a statement bound configured shorter than that wait, while
 *   the transaction's other statements keep the configured bound. The raise stays under
 *   Prisma's bound on the transaction, so that the server ends a statement first and leaves
 *   the connection clean.
 * - A statement long by design (a report over the whole request log, a budget's first read of
 *   a busy subject's history) raises the statement bound for itself (`runLongStatement`).
 * - The connection check at start and the migrations use connections of their own, outside
 *   the pool, without the statement bound: a migration must finish (its lock waits are
 *   bounded on their own, migration-lock-bound.ts).
 * - The embedded database (PGlite) gets no session bound: it is one connection in this
 *   process, so no other session holds its locks, and its WebAssembly build has no timers to
 *   cancel a statement with (a statement_timeout set there is accepted and never fires). The
 *   `SET LOCAL`s below run there too, harmlessly.
 *
 * An operator's statement bound (on the role, in DATABASE_URL) stays, shorter or longer: ours
 * is set only where none is (an operator who chose 60 s for reports keeps it). An operator's
 * shorter lock bound stays; ours replaces none or a longer one.
 *
 * Prisma bounds a transaction too (5 s by default): past it Prisma gives up on the
 * transaction, mid-statement, and the request answers 503 although the server would have
 * ended the statement cleanly, or let it finish. A transaction that waits for locks by design
 * is given a bound past its waits and the statement bound (`transactionBound`), so that the
 * server's bounds end it first.
 */
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

export const LOCK_WAIT_MS = 4_000;

/**
 * How long a statement long by design may run: a report over the whole request log or a
 * budget's first read of a busy subject's history can rightly take longer than the bound on
 * every other statement, and would fail on every retry under it (a budgeted caller would be
 * refused until the read succeeds). As long as a request may take by default
 * (REQUEST_TIMEOUT_MS): past that nobody is waiting for the answer.
 */
export const LONG_STATEMENT_MS = 90_000;

/**
 * One bound: a setting, its value, and, when it replaces a longer bound in force, our own
 * default for it (which may itself be raised). Without `ours` it is set only where no bound is.
 */
interface Bound {
  name: "lock_timeout" | "statement_timeout";
  bound: string;
  ours: string | null;
}

/**
 * Sets each bound (for the transaction when $1) where none is in force (0), and, for a bound
 * with `ours`, over a longer one or our own default. set_config is SET with parameters; one
 * statement for all of them, one round trip as a connection opens.
 */
const SET_BOUNDS = `SELECT set_config(b.name, b.bound, $1::boolean)
  FROM jsonb_to_recordset($2::jsonb) AS b(name text, bound text, ours text)
  WHERE current_setting(b.name) = '0'
     OR (b.ours IS NOT NULL AND current_setting(b.name)::interval > b.bound::interval)
     OR (b.ours IS NOT NULL AND current_setting(b.name)::interval = b.ours::interval)`;

const DEFAULT_LOCK_BOUND = `${LOCK_WAIT_MS}ms`;

type Queryable = { query(text: string, values: unknown[]): Promise<unknown> };

/**
 * For a pooled connection as it opens: the bounds for every statement it runs. A
 * `statementMs` of 0 sets no statement bound (an operator's, if any, is the only one).
 */
export async function boundSession(client: Queryable, statementMs: number): Promise<void> {
  const bounds: Bound[] = [{ name: "lock_timeout", bound: DEFAULT_LOCK_BOUND, ours: DEFAULT_LOCK_BOUND }];
  if (statementMs > 0) bounds.push({ name: "statement_timeout", bound: `${statementMs}ms`, ours: null });
  await client.query(SET_BOUNDS, [false, JSON.stringify(bounds)]);
}

type RawClient = {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
};

/** First statement of a transaction that takes locks: the bound for this transaction (`ms`, LOCK_WAIT_MS unless it waits by design). */
export async function boundLockWaits(tx: RawClient, ms = LOCK_WAIT_MS): Promise<void> {
  const bounds: Bound[] = [{ name: "lock_timeout", bound: `${ms}ms`, ours: DEFAULT_LOCK_BOUND }];
  await tx.$executeRawUnsafe(SET_BOUNDS, true, JSON.stringify(bounds));
}

/**
 * Raises the statement bound to $1 ms for this transaction when the one in force is ours: set by us as the connection opened (pg_settings' source "session"; one from the
 * role, the database or the URL is an operator's and stays, as does no bound at all). Ours is
 * configured (DATABASE_STATEMENT_TIMEOUT_MS), so it is recognised by where it came from rather
 * than by its value; a bound already longer is not lowered. Answers the bound it replaced
 * (the view's row is read before set_config changes it), no row when it raised none.
 */
const RAISE_OUR_STATEMENT_BOUND = `SELECT setting::bigint::text AS replaced, set_config('statement_timeout', $1::bigint || 'ms', true)
  FROM pg_settings WHERE name = 'statement_timeout' AND source = 'session'
   AND setting::bigint > 0 AND setting::bigint < $1::bigint`;

/**
 * Raises the statement bound to `ms` for the rest of this transaction (SET LOCAL), where the
 * bound in force is ours and shorter (see RAISE_OUR_STATEMENT_BOUND): an operator's bound,
 * shorter or longer, stays, and no bound is lowered. Answers the bound it replaced, in ms, or
 * null when it raised none.
 */
export async function raiseStatementBound(tx: RawClient, ms: number): Promise<number | null> {
  const [row] = await tx.$queryRawUnsafe<Array<{ replaced: string }>>(RAISE_OUR_STATEMENT_BOUND, ms);
  return row ? Number(row.replaced) : null;
}

/**
 * Runs `statement` (one that waits by design, for a lock) with the statement bound raised to
 * `ms` as raiseStatementBound does, then puts back the bound it replaced: the transaction's
 * statements after it keep the configured bound.
 */
export async function withStatementBoundRaised<T>(tx: RawClient, ms: number, statement: () => Promise<T>): Promise<T> {
  const replaced = await raiseStatementBound(tx, ms);
  const result = await statement();
  if (replaced !== null) await tx.$executeRawUnsafe(`SELECT set_config('statement_timeout', $1::bigint || 'ms', true)`, replaced);
  return result;
}

/** What Prisma's bound on a transaction leaves past the server's bounds: the server ends a statement first, and the connection is left clean. */
const TRANSACTION_MARGIN_MS = 5_000;

/**
 * The statement bound each client's connections were opened with (openDatabase), for
 * transactionBound. A client not recorded (or opened with none: PGlite,
 * DATABASE_STATEMENT_TIMEOUT_MS=0) is allowed the configured default.
 */
const statementBounds = new WeakMap<object, number>();
const DEFAULT_STATEMENT_MS = 30_000;

export function recordStatementBound(prisma: object, statementMs: number): void {
  statementBounds.set(prisma, statementMs);
}

/**
 * Prisma's bound (`timeout`) on a transaction of `prisma`'s that waits up to `designedMs` by
 * design (its lock waits, each bounded by lock_timeout; a whole document's work): past that,
 * one statement running up to the statement bound, and a margin. The server ends a wait or a
 * statement first, cleanly, with the error the caller is meant to see.
 */
export function transactionBound(prisma: object, designedMs: number): number {
  return designedMs + (statementBounds.get(prisma) || DEFAULT_STATEMENT_MS) + TRANSACTION_MARGIN_MS;
}

/**
 * Prisma's own bound on the transaction around a statement long by design: past the server's
 * (LONG_STATEMENT_MS), so that where that bound is in force the server ends the statement and
 * the connection is left clean. Where no bound of ours is (DATABASE_STATEMENT_TIMEOUT_MS=0, or
 * behind PgBouncer) this is the statement's only one, on the client's side.
 */
const LONG_TRANSACTION_MS = LONG_STATEMENT_MS + TRANSACTION_MARGIN_MS;

/**
 * Runs one statement long by design (see LONG_STATEMENT_MS) with the statement bound raised
 * for it: the raise and the statement in one transaction, so the raise goes with the
 * statement to its server connection (PgBouncer in transaction mode) and ends with it.
 */
export async function runLongStatement<T>(prisma: PrismaClient, statement: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return prisma.$transaction(
    async (tx) => {
      await raiseStatementBound(tx, LONG_STATEMENT_MS);
      return statement(tx);
    },
    { timeout: LONG_TRANSACTION_MS },
  );
}
