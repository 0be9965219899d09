/**
 * What a migration is waiting for, in words an operator can act on: the lock (a table by
 * name, or a row) and the sessions ahead of it (pid, application, state, for how long). Asked
 * from a second connection while the migration's statement still waits: once the statement
 * gives up, PostgreSQL no longer says what it was waiting for, and its error does not either.
 */
import pg from "pg";

interface WaitRow {
  locktype: string;
  mode: string;
  relation: string | null;
  pid: number;
  application_name: string;
  state: string | null;
  seconds: number | null;
}

// pg_blocking_pids lists the sessions holding a conflicting lock and those queued ahead.
const WAIT_QUERY = `
SELECT w.locktype, w.mode, w.relation::regclass::text AS relation,
       b.pid, b.application_name, b.state,
       floor(EXTRACT(EPOCH FROM now() - COALESCE(b.xact_start, b.query_start)))::int AS seconds
  FROM pg_locks w
 CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
  JOIN pg_stat_activity b ON b.pid = blocker.pid
 WHERE w.pid = $1 AND NOT w.granted
 ORDER BY b.pid
 LIMIT 4`;

/** e.g. `a lock on table "Probe" (AccessExclusiveLock), blocked by pid 4242 (psql, idle in transaction for 12 s)`; undefined when nothing waits (or the probe failed). */
export async function describeLockWait(url: string, pid: number): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000, statement_timeout: 2_000 });
  try {
    await client.connect();
    const { rows } = await client.query<WaitRow>(WAIT_QUERY, [pid]);
    return rows.length ? describe(rows) : undefined;
  } catch {
    return undefined; // best effort: the retry line then says less
  } finally {
    await client.end().catch(() => {});
  }
}

function describe(rows: WaitRow[]): string {
  const { locktype, mode, relation } = rows[0]!;
  const what =
    relation ? `a lock on table ${relation}`
    : locktype === "transactionid" || locktype === "tuple" ? "a row lock"
    : `a ${locktype} lock`;
  const holders = rows.map((r) => {
    const app = r.application_name ? `${r.application_name}, ` : "";
    const since = r.seconds === null ? "" : ` for ${r.seconds} s`;
    return `pid ${r.pid} (${app}${r.state ?? "unknown state"}${since})`;
  });
  return `${what} (${mode}), blocked by ${holders.join(", ")}`;
}
