/**
 * A cluster whose database role may not create pg_trgm (the migrations need it): the start
 * stops with one line naming what a superuser must run, before any migration is recorded (a
 * migration recorded as failed would stop every later start until resolved by hand), and
 * starts once that was run.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, testDatabaseUrl } from "../../test/database.ts";
import { openDatabase } from "./database.ts";

async function run(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { return await client.query(sql); } finally { await client.end(); }
}

describe("a database role that may not create extensions", () => {
  const role = `sb_no_ext_${randomBytes(4).toString("hex")}`;
  let server: { url: string; drop(): Promise<void> };
  let asRole: string;

  beforeAll(async () => {
    server = await createTestDatabase();
    // It may create tables (the rest of the migrations) but not extensions: no CREATE on the database.
    await run(server.url, `CREATE ROLE ${role} LOGIN; GRANT ALL ON SCHEMA public TO ${role}`);
    const url = new URL(server.url);
    url.username = role;
    url.password = "";
    asRole = url.toString();
  });

  afterAll(async () => {
    await server?.drop();
    await run(testDatabaseUrl(), `DROP ROLE IF EXISTS ${role}`);
  });

  it("stops the start with one line naming the statement to run, and records no migration", async () => {
    const failure = await openDatabase({ databaseUrl: asRole, dataDir: "/nonexistent" }).then(() => null, (error: Error) => error);
    expect(failure?.message).toMatch(/^Cannot create the pg_trgm extension in PostgreSQL at .*permission denied.*: have a superuser run `CREATE EXTENSION IF NOT EXISTS pg_trgm;`/);
    expect(failure?.message).not.toContain("\n");
    expect((await run(server.url, `SELECT to_regclass('_prisma_migrations') AS t`)).rows).toEqual([{ t: null }]);
  });

  it("starts once a superuser created it", async () => {
    await run(server.url, "CREATE EXTENSION IF NOT EXISTS pg_trgm");
    const db = await openDatabase({ databaseUrl: asRole, dataDir: "/nonexistent" });
    try {
      expect(await db.ping()).toBe(true);
    } finally {
      await db.close();
    }
  });
});
