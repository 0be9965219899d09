/**
 * A configuration change waits up to 25 s for the version row by design (behind another
 * change, a whole document being applied). With a statement bound configured shorter than
 * that wait, a change queued for longer than the bound still gets its own answer, not a 503:
 * the statement bound is raised for the statement that waits. The change's other statements,
 * and every other statement, keep the short bound. Real PostgreSQL, the version row held by a
 * session of the test's own.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { untilLockWaiters } from "../../../test/database.ts";

const STATEMENT_MS = 1_000;

/** The call itself, awaited later: its refusal is not an unhandled rejection meanwhile. */
function quiet<T>(call: Promise<T>): Promise<T> {
  call.catch(() => {});
  return call;
}

let t: TestApp;
let root: string;

beforeAll(async () => {
  t = await startTestApp({ env: { DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_MS) } });
  root = await t.login();
});
afterAll(async () => t?.close());

describe("a configuration change queued behind the version row", () => {
  it("waits past a shorter statement bound and gets its designed outcome", async () => {
    const admin = t.client(root);
    const holder = new pg.Client({ connectionString: t.app.deps.env.DATABASE_URL! });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT "version" FROM "GatewayConfig" WHERE "id" = 1 FOR UPDATE`);
      const create = quiet(admin.providers.create.mutate({ name: "queued", kind: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1", models: ["m"] }));
      await untilLockWaiters(holder, 1);
      const current = await admin.config.export.query();
      const imported = quiet(
        admin.config.import.mutate({
          document: { ...current, models: [...current.models, { name: "queued-route", targets: [{ provider: "template", upstreamModel: "m" }] }] },
        }),
      );
      await untilLockWaiters(holder, 2);
      // Both keep waiting well past the statement bound.
      await new Promise((resolve) => setTimeout(resolve, 2.5 * STATEMENT_MS));
      await holder.query("COMMIT");
      const [created, applied] = await Promise.all([create, imported]);
      expect(created.provider?.name).toBe("queued");
      expect(applied.change).not.toBeNull();
      expect(applied.steps.map((s) => [s.action, s.kind, s.name])).toEqual([["create", "model", "queued-route"]]);
    } finally {
      await holder.end();
    }
    expect((await t.app.deps.db.prisma.modelRoute.findUnique({ where: { name: "queued-route" } }))?.name).toBe("queued-route");
    // The raise was the configuration transactions' own: any other statement keeps the bound.
    await expect(t.app.deps.db.prisma.$queryRawUnsafe("SELECT 1 AS slept FROM pg_sleep(2)")).rejects.toThrow();
  });

  it("keeps the configured statement bound on the change's statements after the wait", async () => {
    const prisma = t.app.deps.db.prisma;
    // Writing a provider takes 1.5 bounds, and nothing holds the version row.
    await prisma.$executeRawUnsafe(`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${(1.5 * STATEMENT_MS) / 1000}); RETURN NEW; END $$`);
    await prisma.$executeRawUnsafe(`CREATE TRIGGER slow_insert BEFORE INSERT ON "Provider" FOR EACH ROW EXECUTE FUNCTION slow_insert()`);
    try {
      const slow = t.client(root).providers.create.mutate({ name: "slow", kind: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1", models: ["m"] });
      await expect(slow).rejects.toMatchObject({ data: { appCode: "SERVICE_UNAVAILABLE", httpStatus: 503 } });
    } finally {
      await prisma.$executeRawUnsafe(`DROP TRIGGER slow_insert ON "Provider"`);
      await prisma.$executeRawUnsafe(`DROP FUNCTION slow_insert()`);
    }
    expect(await prisma.provider.findUnique({ where: { name: "slow" } })).toBeNull();
  });
});
