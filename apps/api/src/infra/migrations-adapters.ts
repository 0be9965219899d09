/**
 * Migration-aware driver-adapter factories for the schema engine, on PostgreSQL and PGlite.
 *
 * The stock factories are right for queries but each has a flaw under the schema engine
 * (found by running it; see the comments below), so the engine gets these thin wrappers.
 * The app's PrismaClient keeps using the stock adapters (database.ts).
 */
import { randomUUID } from "node:crypto";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  DriverAdapterError,
  type IsolationLevel,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
} from "@prisma/driver-adapter-utils";
import pg from "pg";
import { runMigrationScript, type ScriptLockBound, type ScriptLockTimeout } from "./migration-lock-bound.ts";

/** A factory for the engine plus whatever must be released after the engine is done. */
export interface EngineDatabase {
  factory: SqlMigrationAwareDriverAdapterFactory;
  close(): Promise<void>;
}

/**
 * Delegates to a stock adapter, replacing executeScript (how the engine runs migration.sql)
 * and adding cleanup on dispose.
 */
class EngineAdapter implements SqlDriverAdapter {
  readonly provider = "postgres" as const;
  readonly adapterName: string;
  constructor(
    private readonly inner: SqlDriverAdapter,
    private readonly runScript: (script: string) => Promise<unknown>,
    private readonly cleanup: () => Promise<void> = async () => {},
  ) {
    this.adapterName = inner.adapterName;
  }
  queryRaw(query: SqlQuery) { return this.inner.queryRaw(query); }
  executeRaw(query: SqlQuery) { return this.inner.executeRaw(query); }
  startTransaction(isolationLevel?: IsolationLevel) { return this.inner.startTransaction(isolationLevel); }
  getConnectionInfo() { return this.inner.getConnectionInfo?.() ?? { supportsRelationJoins: true }; }
  async executeScript(script: string): Promise<void> {
    try {
      await this.runScript(script);
    } catch (error) {
      throw toAdapterError(error);
    }
  }
  async dispose(): Promise<void> {
    try { await this.inner.dispose(); } finally { await this.cleanup(); }
  }
}

/** A PostgreSQL server error (pg and PGlite share the field names) in the engine's shape. */
function toAdapterError(error: unknown): unknown {
  const e = error as { code?: unknown; message?: unknown; severity?: unknown; detail?: string; column?: string; hint?: string };
  if (typeof e?.code !== "string" || typeof e.message !== "string") return error;
  return new DriverAdapterError({
    kind: "postgres",
    code: e.code,
    severity: typeof e.severity === "string" ? e.severity : "ERROR",
    message: e.message,
    detail: e.detail,
    column: e.column,
    hint: e.hint,
    originalCode: e.code,
    originalMessage: e.message,
  });
}

// The engine introspects with catalog columns of type "char" (oid 18: pg_class.relkind,
// pg_constraint.contype…). @prisma/adapter-pg 7.10 has no column type for oid 18 and fails
// with "Column type 'char' could not be deserialized"; the value is a one-letter string, so
// report it as text.
const CHAR_OID = 18;
const TEXT_OID = 25;
function charAsText<T>(result: T): T {
  for (const field of (result as { fields?: { dataTypeID: number }[] } | undefined)?.fields ?? []) {
    if (field.dataTypeID === CHAR_OID) field.dataTypeID = TEXT_OID;
  }
  return result;
}
class CharAsTextClient extends pg.Client {
  // pg.Client#query is heavily overloaded (callback, promise, submittable); pass through.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const last = args.at(-1);
    if (typeof last === "function") {
      args[args.length - 1] = (err: unknown, res: unknown) => last(err, err ? res : charAsText(res));
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const ret = (super.query as (...a: unknown[]) => unknown)(...args);
    return ret instanceof Promise ? ret.then(charAsText) : ret;
  }
}

/** The same server URL pointing at another database. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try { await client.query(sql); } finally { await client.end(); }
}

/**
 * A migration script on the engine's session (migration-lock-bound.ts). A failure keeps the
 * session: `pool.query` ends a connection whose query failed, and with it the engine's
 * advisory lock, before the engine has recorded the failure.
 */
async function runScriptKeepingSession(pool: pg.Pool, script: string, bound?: ScriptLockBound): Promise<void> {
  const client = await pool.connect();
  try {
    await runMigrationScript(client, script, bound);
  } finally {
    client.release(); // without the error: pg ends a connection released with one
  }
}

/** The PostgreSQL engine database, which also tells whether a script gave up on a lock wait. */
export interface PgEngineDatabase extends EngineDatabase {
  /** The last script that failed for its lock wait (migration-lock-bound.ts), once. */
  takeLockTimeout(): ScriptLockTimeout | undefined;
}

/**
 * PostgreSQL. Four fixes over `new PrismaPg(url)`:
 * - "char" columns (above);
 * - migration scripts run as ONE simple-protocol query, like Prisma's native engine.
 *   PrismaPg#executeScript splits on every ";" (breaking `$$` bodies and string literals)
 *   and sends the pieces to whichever pooled connection is free, losing atomicity;
 * - a failed script keeps its session (runScriptKeepingSession): otherwise the advisory lock
 *   that serialises concurrent migrators is gone before the failure is recorded, and another
 *   migrator could take it and find the migration "started", not finished or failed;
 * - the shadow database. PrismaPg#connectToShadowDb spreads `{...config, database}`, but pg
 *   lets `connectionString` win over `database`, so the "shadow" is the main database:
 *   replaying migrations there fails, or worse. We create `prisma_migrate_shadow_db_<uuid>`
 *   with a URL pointing at it and drop it on dispose.
 * The pool has one connection so the engine's advisory lock (pg_advisory_lock(72707369),
 * which serialises concurrent migrators in cluster mode) and everything the engine does under
 * it share a session; the engine never unlocks it, so it is held until the pool ends.
 * With `lockTimeoutMs`, a migration script on the main database waits at most that long for
 * a lock (migration-lock-bound.ts); a shadow database has no other sessions.
 */
export function pgEngineDatabase(url: string, opts: { lockTimeoutMs?: number } = {}): PgEngineDatabase {
  const pools = new Set<pg.Pool>();
  let lockTimeout: ScriptLockTimeout | undefined;
  const bound: ScriptLockBound | undefined = opts.lockTimeoutMs === undefined
    ? undefined
    : { lockTimeoutMs: opts.lockTimeoutMs, url, onLockTimeout: (failure) => void (lockTimeout = failure) };
  const connectTo = async (connectionString: string, scriptBound?: ScriptLockBound, cleanup?: () => Promise<void>) => {
    const pool = new pg.Pool({ connectionString, max: 1, Client: CharAsTextClient });
    pools.add(pool);
    const end = async () => {
      if (pools.delete(pool)) await pool.end();
      await cleanup?.();
    };
    const runScript = (script: string) => {
      lockTimeout = undefined;
      return runScriptKeepingSession(pool, script, scriptBound);
    };
    return new EngineAdapter(await new PrismaPg(pool).connect(), runScript, end);
  };
  return {
    factory: {
      provider: "postgres",
      adapterName: "@prisma/adapter-pg",
      connect: () => connectTo(url, bound),
      async connectToShadowDb() {
        const name = `prisma_migrate_shadow_db_${randomUUID().replaceAll("-", "")}`;
        await adminQuery(url, `CREATE DATABASE "${name}"`);
        return connectTo(withDatabase(url, name), undefined, () => adminQuery(url, `DROP DATABASE IF EXISTS "${name}"`));
      },
    },
    takeLockTimeout() {
      const taken = lockTimeout;
      lockTimeout = undefined;
      return taken;
    },
    async close() {
      await Promise.all([...pools].map((pool) => pool.end()));
      pools.clear();
    },
  };
}

/**
 * PGlite. pglite-prisma-adapter 0.7's executeScript calls `client.exec(script)` without
 * awaiting it, so a failing migration would be recorded as applied and its error become an
 * unhandled rejection; we await it. Its connectToShadowDb opens an in-memory PGlite that is
 * never closed; ours closes it on dispose. The caller owns (and closes) `client`.
 * `selfShadow` makes `client` its own shadow: for a throwaway, empty instance used only to
 * replay migrations (diffs), it saves starting a second PGlite (an initdb, seconds of CPU).
 */
export function pgliteEngineDatabase(client: PGlite, opts: { selfShadow?: boolean } = {}): EngineDatabase {
  const shadows = new Set<PGlite>();
  const wrap = async (db: PGlite, cleanup?: () => Promise<void>) =>
    new EngineAdapter(await new (await import("pglite-prisma-adapter")).PrismaPGlite(db).connect(), (script) => db.exec(script), cleanup);
  return {
    factory: {
      provider: "postgres",
      adapterName: "pglite-prisma-adapter",
      connect: () => wrap(client),
      async connectToShadowDb() {
        if (opts.selfShadow) return wrap(client);
        const shadow = await (await import("@electric-sql/pglite")).PGlite.create();
        shadows.add(shadow);
        return wrap(shadow, async () => {
          if (shadows.delete(shadow)) await shadow.close();
        });
      },
    },
    async close() {
      await Promise.all([...shadows].map((shadow) => shadow.close()));
      shadows.clear();
    },
  };
}
