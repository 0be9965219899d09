/**
 * A migration behind another session's lock, on real PostgreSQL: it waits at most its
 * per-attempt bound (so the queries queued behind it run), is tried again until the lock is
 * free, leaves `_prisma_migrations` as if it had applied at the first try (plus rolled-back
 * attempts, as `prisma migrate resolve --rolled-back` leaves them), and gives up cleanly after
 * the total bound. Other failures fail at once, as before.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test/database.ts";
import { applyMigrations } from "./migrations.ts";

const CREATE = "20000101000000_create_probe";
const ALTER = "20000101000001_add_note";
const RETRY = new RegExp(`^Migration ${ALTER} is waiting for a lock on table "Probe" \\(AccessExclusiveLock\\), blocked by pid \\d+ \\([^)]*idle in transaction[^)]*\\): .*attempt (\\d+) of (\\d+)`);

interface MigrationRow { migration_name: string; finished_at: Date | null; rolled_back_at: Date | null; logs: string | null }

describe("a migration behind another session's lock (PostgreSQL)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  const sessions: pg.Client[] = [];

  async function session(opts: pg.ClientConfig = {}): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: db.url, ...opts });
    await client.connect();
    sessions.push(client);
    return client;
  }

  /** Another session reading the table in an open transaction: a report, an operator's psql. */
  async function holdTable(): Promise<{ release(): Promise<void> }> {
    const holder = await session({ application_name: "report" });
    await holder.query('BEGIN; SELECT count(*) FROM "Probe"');
    return { release: async () => void (await holder.query("ROLLBACK")) };
  }

  async function writeMigration(name: string, sql: string): Promise<void> {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, "migration.sql"), sql);
  }

  async function migrationRows(name: string): Promise<MigrationRow[]> {
    const client = await session();
    const { rows } = await client.query<MigrationRow>(
      "SELECT migration_name, finished_at, rolled_back_at, logs FROM _prisma_migrations WHERE migration_name = $1 ORDER BY started_at",
      [name],
    );
    return rows;
  }

  const failedRows = (rows: MigrationRow[]) => rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);

  beforeEach(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), "sb-migration-locks-"));
    await writeMigration(CREATE, 'CREATE TABLE "Probe" (id int PRIMARY KEY);\nINSERT INTO "Probe" VALUES (1);\n');
    expect(await applyMigrations({ url: db.url }, { migrationsDir: dir })).toEqual([CREATE]);
    await writeMigration(ALTER, 'ALTER TABLE "Probe" ADD COLUMN note text;\n');
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((client) => client.end().catch(() => {})));
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("steps aside so other queries on the table run, and applies once the lock is free", async () => {
    const holder = await holdTable();
    const lines: string[] = [];
    const applying = applyMigrations({ url: db.url }, { migrationsDir: dir, lockTimeoutMs: 300, lockRetryTotalMs: 30_000, log: (l) => lines.push(l) });

    // The ALTER waits for its lock; a plain SELECT from a third session queues behind it...
    const watcher = await session();
    await expect.poll(async () => (await watcher.query(
      `SELECT 1 FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = '"Probe"'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted`,
    )).rowCount).toBe(1);
    const reader = await session({ statement_timeout: 5_000 }); // without the bound: canceled at 5 s
    const before = performance.now();
    await reader.query('SELECT count(*) FROM "Probe"');
    // ...for no longer than what is left of the migration's 300 ms (plus a loaded machine's slack).
    expect(performance.now() - before).toBeLessThan(1_000);

    await expect.poll(() => lines.filter((l) => RETRY.test(l)).length).toBeGreaterThanOrEqual(2);
    await holder.release();
    expect(await applying).toEqual([ALTER]);

    const retries = lines.filter((l) => RETRY.test(l));
    expect(retries.map((l) => Number(RETRY.exec(l)![1]))).toEqual(retries.map((_, i) => i + 1));
    expect(lines.filter((l) => l.startsWith("Applied migration"))).toEqual([`Applied migration ${ALTER}`]);
    const rows = await migrationRows(ALTER);
    expect(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null)).toHaveLength(1);
    expect(failedRows(rows)).toEqual([]);
    // Each attempt that stepped aside is kept as `migrate resolve --rolled-back` keeps it.
    expect(rows.filter((r) => r.rolled_back_at !== null && r.finished_at === null && /lock timeout/.test(r.logs ?? ""))).toHaveLength(retries.length);
    expect((await watcher.query('SELECT note FROM "Probe"')).rows).toEqual([{ note: null }]);
    expect(await applyMigrations({ url: db.url }, { migrationsDir: dir })).toEqual([]);
  });

  it("two migrators behind the same lock: neither trips over the other's attempts, the migration applies once", async () => {
    const holder = await holdTable();
    const lines: string[] = [];
    const migrators = [1, 2].map(() =>
      applyMigrations({ url: db.url }, { migrationsDir: dir, lockTimeoutMs: 200, lockRetryTotalMs: 30_000, log: (l) => lines.push(l) }),
    );
    await expect.poll(() => lines.filter((l) => RETRY.test(l)).length).toBeGreaterThanOrEqual(4);
    await holder.release();
    expect((await Promise.all(migrators)).flat()).toEqual([ALTER]);
    const rows = await migrationRows(ALTER);
    expect(rows.filter((r) => r.finished_at !== null)).toHaveLength(1);
    expect(failedRows(rows)).toEqual([]);
  });

  it("gives up after the total bound with an error naming the lock wait; a later run applies it cleanly", async () => {
    const holder = await holdTable();
    const lines: string[] = [];
    const before = performance.now();
    const error = await applyMigrations({ url: db.url }, { migrationsDir: dir, lockTimeoutMs: 200, lockRetryTotalMs: 2_000, log: (l) => lines.push(l) })
      .then(() => undefined, (e: Error) => e);
    const elapsed = performance.now() - before;
    expect(error?.message).toMatch(
      new RegExp(`^Applying migrations failed: migration ${ALTER} gave up waiting for a lock on table "Probe" \\(AccessExclusiveLock\\), blocked by pid \\d+ \\(report, idle in transaction`),
    );
    expect(error?.message).toMatch(/after \d+ attempts over [\d.]+ s \(lock_timeout 200 ms each\)/);
    expect(elapsed).toBeGreaterThan(600); // it did retry...
    expect(elapsed).toBeLessThan(2_000 + 1_500); // ...and stopped near the bound
    expect(lines.filter((l) => RETRY.test(l)).length).toBeGreaterThanOrEqual(1);
    expect(failedRows(await migrationRows(ALTER))).toEqual([]); // nothing left that blocks the next run

    await holder.release();
    expect(await applyMigrations({ url: db.url }, { migrationsDir: dir })).toEqual([ALTER]);
  });

  it("a migration with broken SQL fails at once, without retries, and stays failed as before", async () => {
    await rm(join(dir, ALTER), { recursive: true });
    const broken = "20000101000002_broken";
    await writeMigration(broken, 'ALTER TABLE "Probe" ADD COLUMN note text;\nSELECT no_such_function();\n');
    const lines: string[] = [];
    const before = performance.now();
    await expect(applyMigrations({ url: db.url }, { migrationsDir: dir, lockTimeoutMs: 300, lockRetryTotalMs: 30_000, log: (l) => lines.push(l) }))
      .rejects.toThrow(/^Applying migrations failed: .*no_such_function/s);
    expect(performance.now() - before).toBeLessThan(3_000);
    expect(lines.filter((l) => /waiting for|stepped aside/.test(l))).toEqual([]);
    expect(failedRows(await migrationRows(broken))).toHaveLength(1);
    // The next run refuses to go past it, saying which migration and what to run once it is fixed.
    await expect(applyMigrations({ url: db.url }, { migrationsDir: dir })).rejects.toThrow(new RegExp(`migration ${broken} failed at .* and nothing is migrated past it.*"rolled_back_at" = now\\(\\)`));
  });

  it("a lock wait in a script that commits as it goes is not bounded or retried: it could stop halfway", async () => {
    // Its own transactions: a lock failure here could leave the first one committed.
    await writeFile(join(dir, ALTER, "migration.sql"), 'BEGIN;\nLOCK TABLE "Probe" IN ACCESS EXCLUSIVE MODE NOWAIT;\nALTER TABLE "Probe" ADD COLUMN note text;\nCOMMIT;\n');
    const holder = await holdTable();
    const lines: string[] = [];
    await expect(applyMigrations({ url: db.url }, { migrationsDir: dir, lockTimeoutMs: 300, lockRetryTotalMs: 30_000, log: (l) => lines.push(l) }))
      .rejects.toThrow(/lock/);
    expect(lines.filter((l) => /waiting for|stepped aside/.test(l))).toEqual([]);
    expect(failedRows(await migrationRows(ALTER))).toHaveLength(1);
    await holder.release();
  });
});
