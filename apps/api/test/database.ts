/**
 * Real databases for tests. Each call gets its own PostgreSQL database (unique name) or its
 * own PGlite directory, so test files can run in parallel.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openDatabase, type Database } from "../src/infra/database.ts";

/** The server tests create their databases on (database part is only used to connect). */
export function testDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL || "postgresql://root@127.0.0.1:5432/test";
}

/** Same server and credentials, another database. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try { await client.query(sql); } finally { await client.end(); }
}

/** A fresh, empty PostgreSQL database (no migrations applied). */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sb_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await admin(`CREATE DATABASE "${name}"`);
  let dropped = false;
  return {
    url: withDatabase(testDatabaseUrl(), name),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE ends sessions a test forgot to close (PostgreSQL 13+).
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** A migrated PGlite Database in a temp dir; close() also deletes the directory. */
export async function openTestPglite(opts: { log?: (line: string) => void } = {}): Promise<Database & { dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), "sb-pglite-"));
  const db = await openDatabase({ dataDir, log: opts.log });
  return {
    ...db,
    dataDir,
    async close() {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type DatabaseFlavour = "PostgreSQL" | "PGlite";

/**
 * A migrated database of either kind for one test file, as the app opens it; close() also
 * drops the PostgreSQL database or deletes the PGlite directory.
 */
export async function openTestDatabase(flavour: DatabaseFlavour): Promise<Database> {
  const dataDir = await mkdtemp(join(tmpdir(), "sb-test-db-"));
  const server = flavour === "PostgreSQL" ? await createTestDatabase() : undefined;
  const db = await openDatabase({ databaseUrl: server?.url, dataDir });
  return {
    ...db,
    async close() {
      await db.close();
      await server?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A connection of its own with a transaction open: to hold rows or locks while the app's statements meet them. */
export async function openTransaction(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query("BEGIN");
  return client;
}

/**
 * Waits until `n` sessions of this database wait for a lock (or `orSettled` has settled), read from pg_locks
 * (pg_stat_activity's wait columns are read apart from its state and can lag). `client` is
 * the session holding the lock, so only the app's sessions are counted.
 *
 * That session is inside its transaction, and PostgreSQL keeps the first pg_stat_activity it
 * reads in a transaction until the transaction ends: a waiter whose connection opened after
 * the first poll would never be seen. Each poll discards that snapshot first.
 */
export async function untilLockWaiters(client: pg.Client, n: number, opts: { orSettled?: Promise<unknown> } = {}): Promise<void> {
  // `orSettled`: a call that may answer instead of waiting (a test that holds either way).
  let settled = false;
  void opts.orSettled?.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (const until = Date.now() + 15_000; Date.now() < until; ) {
    if (settled) return;
    await client.query("SELECT pg_stat_clear_snapshot()");
    const { rows } = await client.query<{ n: number }>(`SELECT count(DISTINCT l.pid)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`);
    if (rows[0]!.n >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await client.query("SELECT pg_stat_clear_snapshot()");
  const { rows } = await client.query(`SELECT pid, state, wait_event_type, left(query, 80) AS q FROM pg_stat_activity WHERE datname = current_database()`);
  throw new Error(`fewer than ${n} sessions waited on a lock within 15 s: ${JSON.stringify(rows)}`);
}
