/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded PGlite
 * in DATA_DIR (default ./.data at the repo root) when DATABASE_URL is unset — the same thing
 * the server does on start.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openDatabase } from "../src/infra/database.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
// Scripts read their own environment (the server reads it only in src/env.ts). A relative
// DATA_DIR is taken from the repo root, where the server's npm scripts are started.
const databaseUrl = process.env.DATABASE_URL || undefined;
const dataDir = resolve(repoRoot, process.env.DATA_DIR || ".data");
try {
  const started = Date.now();
  let applied = 0;
  const db = await openDatabase({
    databaseUrl,
    dataDir,
    log: (line) => {
      if (line.startsWith("Applied migration")) applied++;
      console.log(line);
    },
  });
  await db.close();
  const where = databaseUrl ? "PostgreSQL" : `PGlite in ${resolve(dataDir, "pglite")}`;
  console.log(`${applied ? `${applied} migration(s) applied` : "Database is up to date"} (${where}, ${Date.now() - started} ms)`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
