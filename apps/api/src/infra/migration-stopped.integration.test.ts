/**
 * A migration whose process is killed while its script runs, on real PostgreSQL: the next
 * start refuses with one line naming the migration and the statement for each outcome, and
 * the outcome really can go either way, which is why nothing is settled automatically. The
 * server either ends the dead client's session (the script is rolled back) or runs the script
 * to its end and commits it; the row in `_prisma_migrations` is the same unfinished row both
 * times.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test/database.ts";
import { applyMigrations } from "./migrations.ts";

const migrationsModule = fileURLToPath(new URL("./migrations.ts", import.meta.url));
const committedDir = fileURLToPath(new URL("../../../../prisma/migrations/", import.meta.url));
const STOPPED = "99990101000000_stopped_part_way";

let tmp: string;
const children: ChildProcess[] = [];
const drops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "sb-migration-stopped-"));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
afterAll(async () => {
  for (const drop of drops.splice(0)) await drop().catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A database with every committed migration applied, and a migrations folder holding one more
 * that sleeps `sleepSec` (only for the session named `kill-me`, so running it again is quick).
 */
async function databaseWithPendingMigration(sleepSec: number): Promise<{ url: string; dir: string }> {
  const db = await createTestDatabase();
  drops.push(db.drop);
  await applyMigrations({ url: db.url });
  const dir = join(tmp, `m${drops.length}`);
  await cp(committedDir, dir, { recursive: true });
  await mkdir(join(dir, STOPPED));
  await writeFile(
    join(dir, STOPPED, "migration.sql"),
    `CREATE TABLE "StoppedPartWay" ("id" INTEGER);\nSELECT pg_sleep(CASE WHEN current_setting('application_name') = 'kill-me' THEN ${sleepSec} ELSE 0 END);\n`,
  );
  return { url: db.url, dir };
}

/** Starts applying in a child process and kills it (SIGKILL) once the script is running; the server's pid for it. */
async function killWhileScriptRuns(url: string, dir: string): Promise<number> {
  const code = `const { applyMigrations } = await import(process.argv[1]); await applyMigrations({ url: process.argv[2] }, { migrationsDir: process.argv[3] });`;
  const childUrl = `${url}?application_name=kill-me`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code, migrationsModule, childUrl, dir], { stdio: "ignore" });
  children.push(child);
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    const [running] = await query<{ pid: number }>(url, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kill-me' AND query LIKE '%pg_sleep%' AND state = 'active'`);
    if (running) {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
      return running.pid;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the migration script did not start within 30 s");
}

async function untilSessionEnds(url: string, pid: number): Promise<void> {
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    if ((await query(url, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`session ${pid} did not end within 30 s`);
}

async function refusal(url: string, dir: string): Promise<string> {
  const error = await applyMigrations({ url }, { migrationsDir: dir }).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return (error as Error).message;
}

const tableExists = async (url: string) => (await query<{ found: string | null }>(url, `SELECT to_regclass('"StoppedPartWay"')::text AS found`))[0]!.found !== null;
/** The statement the message gives for an outcome. */
const statementFor = (message: string, outcome: "rolled_back_at" | "finished_at") => new RegExp(`(UPDATE "_prisma_migrations" SET "${outcome}" = now\\(\\)[^;]*;)`).exec(message)?.[1];

describe("a migration killed part-way (PostgreSQL)", () => {
  it("rolled back by the server: the start fails with one line; the rolled-back statement it names lets the next start apply it", async () => {
    const { url, dir } = await databaseWithPendingMigration(60);
    const pid = await killWhileScriptRuns(url, dir);
    // The server ends the dead client's session (as it does when it notices, or on a restart).
    await query(url, "SELECT pg_terminate_backend($1)", [pid]);
    await untilSessionEnds(url, pid);

    const message = await refusal(url, dir);
    expect(message).not.toContain("\n");
    expect(message).toContain(`migration ${STOPPED} was started at`);
    expect(message).toContain("never finished");
    expect(await tableExists(url)).toBe(false);

    await query(url, statementFor(message, "rolled_back_at")!);
    expect(await applyMigrations({ url }, { migrationsDir: dir })).toEqual([STOPPED]);
    expect(await tableExists(url)).toBe(true);
  });

  it("committed by the server after the client died: the same unfinished row, and the applied statement settles it", async () => {
    const { url, dir } = await databaseWithPendingMigration(2);
    const pid = await killWhileScriptRuns(url, dir);
    // Left alone, the server runs the script to its end and commits it: the client is gone, the row unfinished.
    await untilSessionEnds(url, pid);

    const message = await refusal(url, dir);
    expect(message).toContain(`migration ${STOPPED} was started at`);
    // Running it again would fail (or, for a data migration, apply it twice): that is why a person decides.
    expect(await tableExists(url)).toBe(true);

    await query(url, statementFor(message, "finished_at")!);
    expect(await applyMigrations({ url }, { migrationsDir: dir })).toEqual([]);
    const [row] = await query<{ finished_at: Date | null; applied_steps_count: number }>(url, `SELECT finished_at, applied_steps_count FROM _prisma_migrations WHERE migration_name = $1`, [STOPPED]);
    expect(row).toMatchObject({ finished_at: expect.any(Date), applied_steps_count: 1 });
  });

  it("a migration that failed with an error: the next start names it and the error, in one line", async () => {
    const { url, dir } = await databaseWithPendingMigration(0);
    await writeFile(join(dir, STOPPED, "migration.sql"), `CREATE TABLE "StoppedPartWay" ("id" INTEGER);\nSELECT 1 / 0;\n`);
    await expect(applyMigrations({ url }, { migrationsDir: dir })).rejects.toThrow(/division by zero/);
    const message = await refusal(url, dir);
    expect(message).not.toContain("\n");
    // The engine records what it was told (through the driver adapter, "external connector error"); the failing start said more.
    expect(message).toMatch(new RegExp(`migration ${STOPPED} failed at \\S+ \\(.+\\) and nothing is migrated past it`));
    expect(statementFor(message, "rolled_back_at")).toBeDefined();
  });
});
