/**
 * Periodic prunes delete a bounded batch per statement. One DELETE of a whole backlog (a first
 * prune after a long time, a retention made shorter) can run past the statement bound
 * (DATABASE_STATEMENT_TIMEOUT_MS, statement-bounds.ts): the server cancels it, every run
 * alike, and the backlog never shrinks. A batch per statement keeps each one short, and what
 * was deleted stays deleted when a later batch fails.
 */

export interface PruneBatches {
  /** Rows one statement deletes at most. */
  batch: number;
  /**
   * Statements one run makes at most: a run does not hold a pooled connection and its turn on
   * the event loop for as long as a backlog lasts; the next run goes on with what is left.
   */
  maxBatches: number;
}

/** 5,000 rows a statement, as the request log's prune; up to 500,000 a run. */
export const PRUNE_BATCHES: PruneBatches = { batch: 5_000, maxBatches: 100 };

/**
 * Runs `deleteBatch` (deleting at most `limit` rows, answering how many) until a batch
 * deletes fewer than `limit` (nothing more is due), `maxBatches` were run, or `stopped()`
 * says the owner is closing. Answers how many rows were deleted.
 */
export async function deleteInBatches(
  deleteBatch: (limit: number) => Promise<number>,
  opts: PruneBatches & { stopped?: () => boolean },
): Promise<number> {
  const limit = Math.max(1, opts.batch);
  let total = 0;
  for (let run = 0; run < opts.maxBatches; run++) {
    const deleted = await deleteBatch(limit);
    total += deleted;
    if (deleted < limit || opts.stopped?.()) break;
    // Requests (and, embedded, the database on this thread) get their turn between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return total;
}
