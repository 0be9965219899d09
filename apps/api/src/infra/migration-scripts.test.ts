import { describe, expect, it } from "vitest";
import { runsAsOneTransaction } from "./migration-scripts.ts";

describe("runsAsOneTransaction", () => {
  it.each([
    ["a generated migration", 'ALTER TABLE "User" ADD COLUMN "note" TEXT;\nCREATE INDEX "User_note_idx" ON "User"("note");\n'],
    ["one statement", 'ALTER TABLE "Probe" ADD COLUMN x int'],
    ["CASE … END in an UPDATE", 'UPDATE "User" SET role = CASE WHEN admin THEN \'ADMIN\' ELSE \'USER\' END;\n'],
    ["keywords in comments", "-- BEGIN; COMMIT; CONCURRENTLY\n/* END; ROLLBACK; */\nALTER TABLE t ADD COLUMN c int;"],
    ["keywords in literals and names", "INSERT INTO t VALUES ('x; COMMIT; y', E'it\\'s; BEGIN');\nALTER TABLE \"commit; begin\" ADD c int;"],
    ["a function body", "CREATE FUNCTION f() RETURNS void AS $body$ BEGIN PERFORM 1; END; $body$ LANGUAGE plpgsql;\nSELECT f();"],
    ["a DO block among other statements", "CREATE TABLE t (id int);\nDO $$ BEGIN COMMIT; END $$;"],
  ])("%s: yes", (_what, script) => {
    expect(runsAsOneTransaction(script)).toBe(true);
  });

  it.each([
    ["its own transaction", "BEGIN;\nALTER TABLE t ADD COLUMN c int;\nCOMMIT;\n"],
    ["START TRANSACTION", "start transaction;\nALTER TABLE t ADD COLUMN c int;\nend;"],
    ["a COMMIT halfway", "ALTER TABLE t ADD COLUMN c int;\nCOMMIT;\nALTER TABLE t ADD COLUMN d int;"],
    ["a savepoint", "SAVEPOINT s;\nALTER TABLE t ADD COLUMN c int;"],
    ["an index built concurrently", 'CREATE INDEX CONCURRENTLY "t_c_idx" ON t(c);'],
    ["an index dropped concurrently", "DROP INDEX CONCURRENTLY t_c_idx;"],
    ["a lone DO block (may commit)", "DO $$ BEGIN COMMIT; END $$;"],
    ["a lone procedure call (may commit)", "CALL backfill();"],
    // PostgreSQL nests block comments and ends a line comment at a lone \r: read as it does, the
    // apostrophes below open no literal that would hide what follows.
    ["concurrently after a nested comment", "/* it's /* nested */ isn't it */ CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);"],
    ["a COMMIT after a line comment ended by \r", "-- note\rCOMMIT;\rALTER TABLE t ADD COLUMN c int;"],
  ])("%s: no", (_what, script) => {
    expect(runsAsOneTransaction(script)).toBe(false);
  });
});
