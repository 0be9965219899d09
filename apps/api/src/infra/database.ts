/**
 * The database port: Prisma on PostgreSQL (cluster mode, DATABASE_URL) or on PGlite, an
 * embedded PostgreSQL whose files live in DATA_DIR/pglite (embedded default). Both run the
 * same migrations (migrations.ts) before the client is handed out.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.ts";
import { boundSession, recordStatementBound } from "./statement-bounds.ts";
import { applyMigrations } from "./migrations.ts";

export interface Database {
  prisma: PrismaClient;
  kind: "postgres" | "pglite";
  /** True when a trivial query answers within 2 s. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; without it, PGlite in `${dataDir}/pglite`. */
  databaseUrl?: string;
  dataDir: string;
  log?: (line: string) => void;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Override the migrations folder (tests). */
  migrationsDir?: string;
  /**
   * How long a statement on a pooled PostgreSQL connection may run (statement_timeout), 0 for
   * no bound of ours (statement-bounds.ts); default 0. Not applied to migrations nor to PGlite.
   */
  statementTimeoutMs?: number;
}

const EXPECTED = "expected postgresql://USER:PASSWORD@HOST:5432/DATABASE";

/**
 * PGlite runs PostgreSQL inside this process, and PostgreSQL's default shared_buffers
 * (128 MB) is allocated and touched in its WebAssembly memory: it was the largest part of
 * the embedded default's resident memory. The gateway's tables are small and hot rows are
 * few, so 8 MB of buffers (the OS page cache still holds the files) costs nothing
 * measurable and brings an opened database from ~290 MB to ~150 MB resident.
 */
const PGLITE_START_PARAMS = ["-c", "shared_buffers=8MB", "-c", "temp_buffers=1MB"];

/**
 * How long a statement may wait for a connection: a pooled one, a new one (node-postgres
 * would wait forever by default, on a database that stopped answering: a failover, a dropped
 * network path), or the embedded database's single one; also how long a transaction may wait
 * to start (Prisma's default is 2 s). Past it the statement fails and the request answers 503
 * with Retry-After (database-errors.ts). A statement already running is not cut short here:
 * a client-side timeout would leave it running on the server, or a transaction open on a
 * connection handed back to the pool.
 */
export const DATABASE_WAIT_MS = 10_000;

/**
 * TCP keepalive on every pooled PostgreSQL connection, probing after this much silence. A
 * statement whose network path died (a failover moved the address, a route dropped) would
 * otherwise wait for its answer without end: nothing is left to retransmit once the query was
 * acknowledged. Node's sockets then probe every second, ten times (libuv's settings), so such a
 * connection fails about 20 s in, and its request answers 503. A server that is merely slow
 * answers the probes and is left alone.
 */
const KEEPALIVE_IDLE_MS = 10_000;

/**
 * Checks a PostgreSQL URL and returns where it points (without credentials, for messages).
 * Throws an Error whose message is one line.
 */
export function describeDatabaseUrl(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error(`Invalid DATABASE_URL: not a URL (${EXPECTED})`);
  }
  if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
    throw new Error(`Invalid DATABASE_URL: scheme "${url.protocol}" is not PostgreSQL (${EXPECTED})`);
  }
  const host = url.hostname || url.searchParams.get("host");
  if (!host) throw new Error(`Invalid DATABASE_URL: no host (${EXPECTED})`);
  return `${host}${url.port ? `:${url.port}` : ""}${url.pathname.length > 1 ? url.pathname : ""}`;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts) : openPglite(opts);
}

async function openPostgres(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  const where = describeDatabaseUrl(url);
  // Fail fast with one clear line rather than a migration-engine error further down.
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await probe.connect();
    await probe.query("SELECT 1");
  } catch (error) {
    throw new Error(`Cannot connect to PostgreSQL at ${where}: ${(error as Error).message}`, { cause: error });
  } finally {
    await probe.end().catch(() => {});
  }
  if (opts.migrate !== false) await applyMigrations({ url }, { migrationsDir: opts.migrationsDir, log: opts.log });
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: DATABASE_WAIT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    // Awaited before the connection is handed out (a failure ends it and fails that checkout):
    // not a query queued behind the pool's back, which pg deprecates with a warning.
    onConnect: (client) => boundSession(client, opts.statementTimeoutMs ?? 0),
  });
  const adapter = new PrismaPg(pool, { onPoolError: (error) => opts.log?.(`PostgreSQL pool error: ${error.message}`), disposeExternalPool: true });
  const prisma = new PrismaClient({ adapter, transactionOptions: { maxWait: DATABASE_WAIT_MS } });
  // Transactions that wait by design are bounded past it (transactionBound).
  recordStatementBound(prisma, opts.statementTimeoutMs ?? 0);
  return wrap(prisma, "postgres", async () => {});
}

async function openPglite(opts: OpenDatabaseOptions): Promise<Database> {
  const dir = join(opts.dataDir, "pglite");
  // Loaded only here: a cluster instance never pays for the embedded database's modules.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import("@electric-sql/pglite"), import("pglite-prisma-adapter")]);
  let client: PGlite;
  try {
    await mkdir(dir, { recursive: true });
    client = await PGlite.create({ dataDir: dir, startParams: [...PGlite.defaultStartParams, ...PGLITE_START_PARAMS] });
  } catch (error) {
    throw new Error(`Cannot open the embedded database in ${dir}: ${(error as Error).message}`, { cause: error });
  }
  try {
    if (opts.migrate !== false) await applyMigrations({ pglite: client }, { migrationsDir: opts.migrationsDir, log: opts.log });
  } catch (error) {
    await client.close();
    throw error;
  }
  return wrap(new PrismaClient({ adapter: new PrismaPGlite(client), transactionOptions: { maxWait: DATABASE_WAIT_MS } }), "pglite", () => client.close());
}

function wrap(prisma: PrismaClient, kind: Database["kind"], release: () => Promise<void>): Database {
  let closing: Promise<void> | undefined;
  return {
    prisma,
    kind,
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, 2000, false)));
      try {
        return await Promise.race([prisma.$queryRawUnsafe("SELECT 1").then(() => true, () => false), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      closing ??= prisma.$disconnect().finally(release);
      return closing;
    },
  };
}
