/**
 * How long a statement inside one of our own transactions may wait for a lock another
 * session holds (a row, a table, an advisory lock), set on the transaction itself
 * (`SET LOCAL`, so it works behind PgBouncer, which refuses start-up parameters, and leaves
 * an operator's own bounds everywhere else; an operator's shorter bound stays). Under Prisma's 5 s transaction bound: past that
 * bound Prisma gives up on the transaction, but its statement would go on waiting on the
 * server, holding a pooled connection until the lock is released. Past this one the server
 * ends the statement (55P03) and the request answers 503 with Retry-After.
 */
export const LOCK_WAIT_MS = 4_000;

/** Bounds the lock waits of the transaction `tx` runs (see LOCK_WAIT_MS). First statement of a transaction that takes locks. */
export async function boundLockWaits(tx: { $executeRaw: (query: TemplateStringsArray, ...values: unknown[]) => Promise<number> }): Promise<void> {
  const bound = `${LOCK_WAIT_MS}ms`;
  // set_config(…, true) is SET LOCAL with a parameter: it lasts until the transaction ends. 0 is no bound at all.
  await tx.$executeRaw`SELECT set_config('lock_timeout', ${bound}, true) WHERE current_setting('lock_timeout') = '0' OR current_setting('lock_timeout')::interval > ${bound}::interval`;
}
