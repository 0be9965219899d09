/**
 * How long a statement may wait for a lock another session holds (a row, a table, an advisory
 * lock): a session that keeps one — a migration queued behind a long report, an operator's
 * `psql`, a stuck client — would otherwise hold every request that needs it for as long as it
 * likes, each on a pooled connection. Past the bound the server ends the statement (55P03) and
 * the request answers 503 with Retry-After.
 *
 * - Every PostgreSQL connection starts with it (`boundSessionLockWaits`, a `SET` when the pool
 *   opens the connection, not a start-up parameter PgBouncer would refuse). Behind PgBouncer
 *   in transaction mode a session setting may not follow a transaction to its server
 *   connection, so:
 * - each transaction that takes locks also sets it for itself (`boundLockWaits`, `SET LOCAL`),
 *   with a longer bound where waiting is the transaction's job (a configuration change waits
 *   for a whole document being applied before it).
 * An operator's shorter bound (on the role, in DATABASE_URL) stays. It is kept under Prisma's
 * transaction bound (5 s by default): past that bound Prisma gives up on the transaction, but
 * a statement already waiting on the server would go on waiting.
 */
export const LOCK_WAIT_MS = 4_000;

/**
 * Sets lock_timeout to $1 (for the transaction when $2) unless a shorter one is in force;
 * 0 is no bound at all, and our own default ($3) may be raised. set_config is SET with
 * parameters.
 */
const SET_BOUND = `SELECT set_config('lock_timeout', $1::text, $2::boolean)
  WHERE current_setting('lock_timeout') = '0'
     OR current_setting('lock_timeout')::interval > $1::interval
     OR current_setting('lock_timeout')::interval = $3::interval`;

const DEFAULT_BOUND = `${LOCK_WAIT_MS}ms`;

/** For a pooled connection as it opens: the bound for every statement it runs. */
export async function boundSessionLockWaits(client: { query(text: string, values: unknown[]): Promise<unknown> }): Promise<void> {
  await client.query(SET_BOUND, [DEFAULT_BOUND, false, DEFAULT_BOUND]);
}

/** First statement of a transaction that takes locks: the bound for this transaction (`ms`, LOCK_WAIT_MS unless it waits by design). */
export async function boundLockWaits(tx: { $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number> }, ms = LOCK_WAIT_MS): Promise<void> {
  await tx.$executeRawUnsafe(SET_BOUND, `${ms}ms`, true, DEFAULT_BOUND);
}
