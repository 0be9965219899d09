/**
 * Migrations on real databases: the committed prisma/migrations must build exactly
 * schema.prisma on PostgreSQL and on PGlite, be idempotent, and leave the same
 * `_prisma_migrations` bookkeeping as the Prisma CLI.
 */
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, testDatabaseUrl } from "../../test/database.ts";
import {
  applyMigrations,
  createMigration,
  diffDatabaseAgainstSchema,
  diffMigrationsAgainstSchema,
  type MigrationTarget,
} from "./migrations.ts";

const prismaDir = fileURLToPath(new URL("../../../../prisma/", import.meta.url));
const migrationsDir = join(prismaDir, "migrations");

async function committedMigrations(): Promise<string[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

interface Backend {
  target: MigrationTarget;
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const backends: [string, () => Promise<Backend>][] = [
  ["PostgreSQL", async () => {
    const db = await createTestDatabase();
    return {
      target: { url: db.url },
      async query(sql) {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        try { return (await client.query(sql)).rows; } finally { await client.end(); }
      },
      close: () => db.drop(),
    };
  }],
  ["PGlite", async () => {
    const client = await PGlite.create();
    return {
      target: { pglite: client },
      query: async (sql) => (await client.query<Record<string, unknown>>(sql)).rows,
      close: () => client.close(),
    };
  }],
];

describe.each(backends)("migrations on %s", (_name, open) => {
  let backend: Backend;
  beforeAll(async () => { backend = await open(); });
  afterAll(async () => { await backend?.close(); });

  it("applies every migration, one log line each, and yields exactly schema.prisma", async () => {
    const lines: string[] = [];
    const applied = await applyMigrations(backend.target, { log: (line) => lines.push(line) });
    const expected = await committedMigrations();
    expect(expected.length).toBeGreaterThan(0);
    expect(applied).toEqual(expected);
    expect(lines).toEqual(expected.map((name) => `Applied migration ${name}`));
    expect(await diffDatabaseAgainstSchema(backend.target)).toBe("");
  });

  it("applying again is a no-op", async () => {
    const lines: string[] = [];
    expect(await applyMigrations(backend.target, { log: (line) => lines.push(line) })).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("records _prisma_migrations as the Prisma CLI does", async () => {
    const rows = await backend.query(
      `SELECT migration_name, checksum, finished_at, rolled_back_at, logs, applied_steps_count
         FROM _prisma_migrations ORDER BY migration_name`,
    );
    const names = await committedMigrations();
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    for (const row of rows) {
      const sql = await readFile(join(migrationsDir, String(row.migration_name), "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(sql).digest("hex"));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });
});

describe("migrations folder", () => {
  let tmp: string;
  beforeAll(async () => { tmp = await mkdtemp(join(tmpdir(), "sb-migrations-")); });
  afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

  it("is in sync with schema.prisma (no drift), with a PostgreSQL shadow database", async () => {
    expect(await diffMigrationsAgainstSchema({ shadowUrl: testDatabaseUrl() })).toBe("");
    const shadows = await new pg.Client({ connectionString: testDatabaseUrl() });
    await shadows.connect();
    const left = await shadows.query("SELECT datname FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'");
    await shadows.end();
    expect(left.rows).toEqual([]); // the temporary shadow database was dropped
  });

  it("is in sync with schema.prisma (no drift), with an in-memory PGlite shadow", async () => {
    expect(await diffMigrationsAgainstSchema()).toBe("");
  });

  it("createMigration is a no-op with a message when nothing changed", async () => {
    const dir = join(tmp, "unchanged");
    await cp(migrationsDir, dir, { recursive: true });
    const lines: string[] = [];
    expect(await createMigration("nothing", { migrationsDir: dir, shadowUrl: testDatabaseUrl(), log: (l) => lines.push(l) })).toBeNull();
    expect(lines).toEqual(["schema.prisma matches the migrations; no migration created."]);
    expect((await readdir(dir)).sort()).toEqual([...(await committedMigrations()), "migration_lock.toml"].sort());
  });

  it("createMigration writes the next folder for a changed schema, and it applies cleanly", async () => {
    const dir = join(tmp, "changed");
    await cp(migrationsDir, dir, { recursive: true });
    const schemaPath = join(tmp, "schema.prisma");
    const schema = await readFile(join(prismaDir, "schema.prisma"), "utf8");
    await writeFile(schemaPath, `${schema}\nmodel MigrationProbe {\n  id   String @id\n  name String @unique\n}\n`);

    const created = await createMigration("Add a probe!", { migrationsDir: dir, schemaPath, shadowUrl: testDatabaseUrl() });
    expect(created).toMatch(/[/\\]\d{14}_add_a_probe$/);
    const sql = await readFile(join(created!, "migration.sql"), "utf8");
    expect(sql).toContain('CREATE TABLE "MigrationProbe"');
    expect(sql).not.toContain('CREATE TABLE "User"');
    expect((await readdir(dir)).filter((n) => n !== "migration_lock.toml").sort().at(-1)).toBe(created!.split(/[/\\]/).at(-1));

    const db = await createTestDatabase();
    try {
      const applied = await applyMigrations({ url: db.url }, { migrationsDir: dir });
      expect(applied.at(-1)).toBe(created!.split(/[/\\]/).at(-1));
      expect(await diffDatabaseAgainstSchema({ url: db.url }, { schemaPath })).toBe("");
    } finally {
      await db.drop();
    }
  });

  it("a failing migration is reported and not recorded as finished (PGlite)", async () => {
    const dir = join(tmp, "broken");
    await mkdir(join(dir, "20000101000000_broken"), { recursive: true });
    await writeFile(join(dir, "20000101000000_broken", "migration.sql"), 'CREATE TABLE "A" (id int);\nSELECT no_such_function();\n');
    const client = await PGlite.create();
    try {
      await expect(applyMigrations({ pglite: client }, { migrationsDir: dir })).rejects.toThrow(/no_such_function/);
      const rows = await client.query<{ finished_at: Date | null; logs: string | null }>("SELECT finished_at, logs FROM _prisma_migrations");
      expect(rows.rows).toHaveLength(1);
      expect(rows.rows[0]!.finished_at).toBeNull();
      // The script ran as one implicit transaction: its first statement was rolled back too.
      expect((await client.query(`SELECT to_regclass('"A"') AS t`)).rows).toEqual([{ t: null }]);
    } finally {
      await client.close();
    }
  });

  it("a failed migration is recorded before the migration lock goes to the next migrator (PostgreSQL)", async () => {
    const dir = join(tmp, "slow-broken");
    await mkdir(join(dir, "20000101000000_slow_broken"), { recursive: true });
    await writeFile(join(dir, "20000101000000_slow_broken", "migration.sql"), "SELECT pg_sleep(0.5);\nSELECT no_such_function();\n");
    const db = await createTestDatabase();
    const next = new pg.Client({ connectionString: db.url });
    await next.connect();
    try {
      const failing = applyMigrations({ url: db.url }, { migrationsDir: dir }).catch((error: Error) => error);
      // The next migrator queues for Prisma's migration lock once the first one holds it.
      await expect.poll(async () => (await next.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 72707369 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rowCount).toBe(1);
      await next.query("SELECT pg_advisory_lock(72707369)");
      const rows = (await next.query("SELECT finished_at, logs FROM _prisma_migrations")).rows;
      await next.query("SELECT pg_advisory_unlock(72707369)");
      expect(await failing).toBeInstanceOf(Error);
      expect(rows).toHaveLength(1);
      expect(rows[0].finished_at).toBeNull();
      expect(rows[0].logs).toMatch(/no_such_function/); // recorded as failed, not merely started
    } finally {
      await next.end();
      await db.drop();
    }
  });

  it("concurrent migrators on one PostgreSQL database apply each migration once", async () => {
    const db = await createTestDatabase();
    try {
      const results = await Promise.all([1, 2, 3].map(() => applyMigrations({ url: db.url })));
      expect(results.flat().sort()).toEqual(await committedMigrations());
    } finally {
      await db.drop();
    }
  });
});
