/**
 * `npm run db:migration -- <name>`: writes prisma/migrations/<timestamp>_<name>/ with the SQL
 * that schema.prisma adds to the existing migrations (nothing when they are in sync).
 *
 * The migrations are replayed on a shadow database: a temporary database on DATABASE_URL's
 * server when it is set, otherwise an in-memory PGlite (no server needed).
 */
import { createMigration } from "../src/infra/migrations.ts";

const name = process.argv.slice(2).join("_");
if (!name) {
  console.error("usage: npm run db:migration -- <name>");
  process.exit(2);
}
try {
  // Scripts read their own environment (the server reads it only in src/env.ts).
  const shadowUrl = process.env.DATABASE_URL || undefined;
  await createMigration(name, { shadowUrl, log: (line) => console.log(line) });
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
