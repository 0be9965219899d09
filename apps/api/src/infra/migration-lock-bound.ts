/**
 * A migration on PostgreSQL waits a short while for its locks, not for as long as another
 * session holds them. PostgreSQL queues lock requests in order: an ALTER TABLE waiting for a
 * long report (or an operator's open `psql` transaction) to let go of its table holds up every
 * later query on that table, even a plain SELECT, for as long as it waits, so one slow report
 * during a rolling deploy stalled the whole gateway. With `lock_timeout` set for the script,
 * the server cancels it past the bound (SQLSTATE 55P03) and rolls all of it back, the queue
 * behind it drains, and the migration is tried again after a pause (migration-lock-retries.ts).
 *
 * Only a script that runs as one transaction is bounded (migration-scripts.ts). One that
 * commits as it goes could be stopped halfway, part of it applied and the rest left to repair
 * by hand, so it waits as before; an index built CONCURRENTLY, the usual case, does not hold
 * up the table's reads and writes while it waits.
 */
import type pg from "pg";
import { describeLockWait } from "./migration-lock-probe.ts";
import { runsAsOneTransaction } from "./migration-scripts.ts";

/** SQLSTATE lock_not_available: lock_timeout ran out (or a NOWAIT found the lock taken). */
export const LOCK_NOT_AVAILABLE = "55P03";

/** A script the server cancelled for its lock wait, and what it was waiting for. */
export interface ScriptLockTimeout {
  script: string;
  waitingFor?: string;
}

export interface ScriptLockBound {
  /** lock_timeout for the script, unless the session already has a shorter one. */
  lockTimeoutMs: number;
  /** The database, for the probe that asks what the script waits for. */
  url: string;
  onLockTimeout(failure: ScriptLockTimeout): void;
}

// Lowers lock_timeout for the session (set_config is SET with parameters), keeping an
// operator's shorter bound; returns what to restore and the bound in force, in ms.
const SET_BOUND = `
SELECT pg_backend_pid() AS pid, previous,
       EXTRACT(EPOCH FROM set_config('lock_timeout',
         CASE WHEN previous::interval = '0' OR previous::interval > $1::text::interval THEN $1::text ELSE previous END,
         false)::interval)::float8 * 1000 AS bound_ms
  FROM current_setting('lock_timeout') AS previous`;

/**
 * Runs one migration script on the engine's session, as one simple-protocol query, with its
 * lock wait bounded when `bound` is given and the script runs as one transaction.
 */
export async function runMigrationScript(client: pg.ClientBase, script: string, bound?: ScriptLockBound): Promise<void> {
  if (!bound || !runsAsOneTransaction(script)) {
    try {
      await client.query(script);
    } catch (error) {
      // A script that opened a transaction and failed inside it would leave the session in
      // it; the engine records the failure on this session next.
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    }
    return;
  }
  const { rows } = await client.query<{ pid: number; previous: string; bound_ms: number }>(SET_BOUND, [`${bound.lockTimeoutMs}ms`]);
  const { pid, previous, bound_ms: boundMs } = rows[0]!;
  // Asked halfway through the bound: the statement is still waiting, and the server can say for what.
  let probe: Promise<string | undefined> | undefined;
  const timer = setTimeout(() => (probe = describeLockWait(bound.url, pid)), boundMs / 2);
  try {
    await client.query(script);
  } catch (error) {
    if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) bound.onLockTimeout({ script, waitingFor: await probe });
    throw error;
  } finally {
    clearTimeout(timer);
    // The engine's own bookkeeping runs on this session next, unbounded as before; a session
    // too broken to restore it fails that bookkeeping with its own error.
    await client.query("SELECT set_config('lock_timeout', $1, false)", [previous]).catch(() => {});
  }
}
