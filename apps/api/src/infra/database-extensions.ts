/**
 * The PostgreSQL extensions the migrations create: pg_trgm, whose trigram indexes serve the
 * request log's free-text search (logs.list {q}).
 */
import type pg from "pg";

/**
 * For PGlite: an extension's files are not in PGlite's core bundle but loaded when an instance
 * is created, and CREATE EXTENSION on an instance created without them fails. Every PGlite
 * that runs the migrations (the embedded database, the schema engine's shadow and scratch
 * databases, tests) is created with these. Loaded on demand: a cluster instance never reads them.
 */
export async function pgliteExtensions() {
  const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
  return { pg_trgm };
}

/** What an operator runs, as a superuser, when the gateway's role may not. */
export const CREATE_EXTENSIONS_SQL = "CREATE EXTENSION IF NOT EXISTS pg_trgm;";

/**
 * On PostgreSQL, creates the extensions before the migrations run. pg_trgm is trusted
 * (PostgreSQL 13+), so a role with CREATE on the database (its owner, typically) may create
 * it; a role without, on a server where nobody has, would fail inside the migration, and the
 * schema engine records that migration as failed, which stops every later start (P3009) until
 * someone resolves it by hand. Failing here instead leaves nothing behind and says what to
 * run. Once the extension exists, IF NOT EXISTS needs no privilege at all.
 */
export async function ensurePostgresExtensions(client: pg.Client, where: string): Promise<void> {
  try {
    await client.query(CREATE_EXTENSIONS_SQL);
  } catch (error) {
    const message = (error as Error).message.split("\n")[0];
    throw new Error(
      `Cannot create the pg_trgm extension in PostgreSQL at ${where} (${message}): have a superuser run \`${CREATE_EXTENSIONS_SQL}\` in that database once, then start again`,
      { cause: error },
    );
  }
}
