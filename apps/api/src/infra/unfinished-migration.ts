/**
 * A migration whose row in `_prisma_migrations` was started and never finished stops every
 * later run (the engine's P3009). When its process was stopped part-way (killed, the machine
 * lost, the connection cut), the row alone cannot say whether the script took effect: the
 * server runs a script sent before the client died to its end and commits it, or rolls it back
 * when it notices the session is gone, and either way the engine never records the outcome.
 * Marking it rolled back and running it again could apply it twice, so it is not done here:
 * the start fails with one line naming the migration and the statement that settles it, once
 * a person has looked (docs/operations.md, "A migration stopped part-way").
 */

export interface UnfinishedRow {
  migration_name: string;
  started_at: Date | string;
  logs: string | null;
}

/** The unfinished row (finished_at and rolled_back_at NULL) the engine refused to go past, if any. */
export const UNFINISHED_ROW_SQL = `SELECT migration_name, started_at, logs FROM _prisma_migrations
  WHERE finished_at IS NULL AND rolled_back_at IS NULL ORDER BY started_at LIMIT 1`;

/** True when the engine refused to migrate because of a failed or unfinished migration. */
export function isUnfinishedMigrationRefusal(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === "P3009") return true;
  }
  return false;
}

const quoted = (name: string) => name.replace(/'/g, "''");

/** One line: which migration, why nothing goes on, and the SQL for each outcome. */
export function unfinishedMigrationMessage(row: UnfinishedRow): string {
  const name = row.migration_name;
  const started = new Date(row.started_at).toISOString();
  const where = `WHERE "migration_name" = '${quoted(name)}' AND "finished_at" IS NULL AND "rolled_back_at" IS NULL`;
  const rolledBack = `UPDATE "_prisma_migrations" SET "rolled_back_at" = now() ${where};`;
  const applied = `UPDATE "_prisma_migrations" SET "finished_at" = now(), "applied_steps_count" = 1 ${where};`;
  if (row.logs) {
    // The engine's log starts with headings ("Migration name: …", "Database error code: …"); the server's own words say why.
    const lines = row.logs.split("\n").map((l) => l.trim()).filter(Boolean);
    const reason = lines.find((l) => /^ERROR:/.test(l)) ?? lines.find((l) => !/^(Migration name|Database error code|Database error):/.test(l)) ?? "an error";
    return (
      `Applying migrations failed: migration ${name} failed at ${started} (${reason}) and nothing is migrated past it. ` +
      `Undo whatever part of it was applied, fix the cause, then run ${rolledBack} and start again (it is applied again).`
    );
  }
  return (
    `Applying migrations failed: migration ${name} was started at ${started} and never finished (the process applying it ` +
    `stopped part-way: killed, or its database connection lost), so nothing is migrated past it. Its script may have taken ` +
    `effect in full or not at all: if its changes are not in the database, run ${rolledBack} (it is applied again at the ` +
    `next start); if they are, run ${applied}. Then start again.`
  );
}
