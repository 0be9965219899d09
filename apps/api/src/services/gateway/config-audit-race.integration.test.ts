/**
 * The audit row of a provider change names the provider as the change found it under the
 * configuration lock, not as it was before the change waited there: an update queued behind a
 * rename of the same provider is recorded under the new name. Two real providers.update calls
 * on PostgreSQL, held in line behind a session that holds the version row.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { untilLockWaiters } from "../../../test/database.ts";

let t: TestApp;
let root: string;

beforeAll(async () => {
  t = await startTestApp();
  root = await t.login();
});
afterAll(async () => t?.close());

describe("providers.update racing a rename", () => {
  it("the update queued behind the rename is audited under the name it changed", async () => {
    const admin = t.client(root);
    const created = await admin.providers.create.mutate({ name: "before-rename", kind: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1", models: ["m"] });
    const id = created.provider!.id;
    const holder = new pg.Client({ connectionString: t.app.deps.env.DATABASE_URL! });
    await holder.connect();
    try {
      // Hold the version row: both changes queue behind it, the rename first.
      await holder.query("BEGIN");
      await holder.query(`SELECT "version" FROM "GatewayConfig" WHERE "id" = 1 FOR UPDATE`);
      const rename = admin.providers.update.mutate({ id, name: "after-rename" });
      await untilLockWaiters(holder, 1);
      const retime = admin.providers.update.mutate({ id, timeoutMs: 4_321 });

      await untilLockWaiters(holder, 2);
      await holder.query("COMMIT");
      await Promise.all([rename, retime]);
    } finally {
      await holder.end();
    }
    const rows = await t.app.deps.db.prisma.configAudit.findMany({ where: { action: "provider.update" }, orderBy: { version: "asc" } });
    expect(rows.map((r) => [r.target, r.changes])).toEqual([
      ["before-rename", { name: "after-rename" }],
      ["after-rename", { timeoutMs: 4_321 }],
    ]);
    // Asked by its new name, the history finds the change made under it.
    expect((await admin.config.history.query({ target: "after-rename" })).items.map((i) => i.changes)).toEqual([{ timeoutMs: 4_321 }]);
  });
});
