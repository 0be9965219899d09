// Process entry point of the migration step (the Kubernetes Job, `node apps/api/dist/migrate.js`):
// applies pending migrations to the configured database and exits. The server applies
// them at start too; running this first makes a failing migration fail a Job, not a rollout.
import { resolve } from "node:path";
import { loadEnvOrExit } from "./env.ts";
import { openDatabase } from "./infra/database.ts";

const env = loadEnvOrExit();
const started = Date.now();
try {
  let applied = 0;
  const db = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: resolve(env.DATA_DIR),
    log: (line) => {
      if (line.startsWith("Applied migration")) applied++;
      console.log(line);
    },
  });
  await db.close();
  const where = env.DATABASE_URL ? "PostgreSQL" : `PGlite in ${resolve(env.DATA_DIR, "pglite")}`;
  console.log(`${applied ? `${applied} migration(s) applied` : "Database is up to date"} (${where}, ${Date.now() - started} ms)`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
