/**
 * `users.update {password, revokeKeys: true}` writes the password, ends the sessions and
 * revokes the keys as one transaction: when the database fails at the revocation, none of it
 * stays — the old password still signs in, no new one does, the session and the key still
 * act — and the call sent again does it all. Real PostgreSQL; the failure is a trigger of the
 * test's own database refusing the keys' revocation as a lock wait past its bound would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation } from "../../test/http.ts";

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

const models = (url: string, key: string) => fetch(`${url}/v1/models`, { headers: bearer(key) }).then((r) => r.status);

describe("users.update with a new password and revokeKeys", () => {
  it("a failure at the keys' revocation leaves the password, the sessions and the keys as they were", async () => {
    const owner = await t.userWithRole("USER");
    const key = await t.client(owner.token).keys.create.mutate({ name: "made with the leaked password" });
    expect(await models(t.url, key.key)).toBe(200);
    const root = await t.login();
    const prisma = t.app.deps.db.prisma;
    await prisma.$executeRawUnsafe(`CREATE FUNCTION refuse_key_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused for the test' USING ERRCODE = 'lock_not_available'; END $$`);
    await prisma.$executeRawUnsafe(`CREATE TRIGGER refuse_key_revocation BEFORE UPDATE ON "ApiKey" FOR EACH ROW
      WHEN (OLD."revokedAt" IS NULL AND NEW."revokedAt" IS NOT NULL) EXECUTE FUNCTION refuse_key_revocation()`);

    const failed = await trpcMutation(t.url, "users.update", { id: owner.id, password: "a brand new passphrase", revokeKeys: true }, bearer(root));
    expect(failed.status).toBe(503);
    await expect(t.login(owner.email, "a brand new passphrase")).rejects.toThrow();
    expect(await t.login(owner.email, owner.password)).toBeTruthy();
    expect((await t.client(owner.token).auth.me.query()).id).toBe(owner.id);
    expect(await models(t.url, key.key)).toBe(200);
    expect((await prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } })).revokedAt).toBeNull();

    // Sent again once the database is well: all of it.
    await prisma.$executeRawUnsafe(`DROP TRIGGER refuse_key_revocation ON "ApiKey"`);
    const sentAgain = await trpcMutation(t.url, "users.update", { id: owner.id, password: "a brand new passphrase", revokeKeys: true }, bearer(root));
    expect(sentAgain.status).toBe(200);
    await expect(t.login(owner.email, owner.password)).rejects.toThrow();
    expect(await t.login(owner.email, "a brand new passphrase")).toBeTruthy();
    expect(await models(t.url, key.key)).toBe(401);
    await expect(t.client(owner.token).auth.me.query()).rejects.toThrow();
  });
});
