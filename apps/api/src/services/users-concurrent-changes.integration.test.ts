/**
 * Account changes landing on the same user at once. A change and a delete of one user each
 * finish as designed (no deadlock, which the caller would see as a conflict to retry), since
 * every one of them locks the user's row before any of the user's other rows. A demotion works
 * out what it changes from the row as it is under its lock, so a promotion committed while it
 * waited does not make it look like no change (the SuperAdmin sessions since would outlive it).
 * A SuperAdmin's change queued behind their own demotion is refused: the actor is checked
 * again under the guard's lock, not only as the request arrived.
 * The interleavings are forced on PostgreSQL by a session holding what the calls need and
 * letting go once both wait.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { openTransaction, untilLockWaiters } from "../../test/database.ts";

let t: TestApp;
let rootToken: string;

beforeAll(async () => {
  // Users and revocations are re-read only when a change is heard, never by the resync during
  // a test: what a change does not announce stays unknown here, as on an instance it never reached.
  t = await startTestApp({ appOptions: { auth: { resyncIntervalMs: 10 * 60_000 } } });
  rootToken = await t.login();
}, 60_000);
afterAll(async () => t?.close());

const holder = () => openTransaction(t.app.deps.env.DATABASE_URL!);

/** How a call settled: its value, or its error's code. */
function settled<T>(call: Promise<T>): Promise<{ ok: T } | { code: unknown }> {
  return call.then(
    (ok) => ({ ok }),
    (error: { data?: { code?: unknown } }) => ({ code: error.data?.code ?? error }),
  );
}

const lockUser = (client: pg.Client, id: string) => client.query(`SELECT 1 FROM "User" WHERE "id" = $1 FOR UPDATE`, [id]);

describe("users.update and users.delete of the same user at once", () => {
  it("a password reset queued ahead of the delete: both land, no deadlock", async () => {
    const target = await t.userWithRole("USER");
    const root = t.client(rootToken);
    const user = await holder();
    let updated, removed;
    try {
      await lockUser(user, target.id);
      updated = settled(root.users.update.mutate({ id: target.id, password: "a brand new passphrase" }));
      await untilLockWaiters(user, 1);
      removed = settled(root.users.delete.mutate({ id: target.id }));
      await untilLockWaiters(user, 2, { orSettled: removed });
    } finally {
      await user.query("COMMIT");
      await user.end();
    }
    expect(await updated).toMatchObject({ ok: { id: target.id } });
    expect(await removed).toEqual({ ok: { id: target.id, deleted: true } });
    expect(await t.app.deps.db.prisma.user.count({ where: { id: target.id } })).toBe(0);
    await expect(t.client(target.token).auth.me.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
  });

  it("a delete queued ahead of the password reset: the delete lands, the reset finds no user", async () => {
    const target = await t.userWithRole("USER");
    const root = t.client(rootToken);
    const user = await holder();
    let updated, removed;
    try {
      await lockUser(user, target.id);
      removed = settled(root.users.delete.mutate({ id: target.id }));
      await untilLockWaiters(user, 1);
      updated = settled(root.users.update.mutate({ id: target.id, password: "a brand new passphrase" }));
      await untilLockWaiters(user, 2, { orSettled: updated });
    } finally {
      await user.query("COMMIT");
      await user.end();
    }
    expect(await removed).toEqual({ ok: { id: target.id, deleted: true } });
    expect(await updated).toEqual({ code: "NOT_FOUND" });
    await expect(t.client(target.token).auth.me.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
  });
});

describe("a demotion waiting while the user is promoted", () => {
  it("ends the SuperAdmin session started meanwhile: it changes the role as the row is when it writes", async () => {
    const target = await t.userWithRole("ADMIN");
    const root = t.client(rootToken);
    const guard = await holder();
    let demoted, signedIn: { accessToken: string; refreshToken: string } | undefined;
    try {
      // A demotion waits for the last-SuperAdmin guard's lock, here held by the test.
      await guard.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard:last-superadmin'))`);
      demoted = settled(root.users.update.mutate({ id: target.id, role: "ADMIN" }));
      await untilLockWaiters(guard, 1);
      // Meanwhile the user is promoted by a writer that takes no guard (as the start-up
      // recovery does; users.update would queue behind the demotion) and signs in as a SuperAdmin.
      await t.app.deps.db.prisma.user.update({ where: { id: target.id }, data: { role: "SUPERADMIN" } });
      signedIn = await t.client().auth.login.mutate({ email: target.email, password: target.password });
      expect((await t.client(signedIn.accessToken).auth.me.query()).role).toBe("SUPERADMIN");
    } finally {
      await guard.query("COMMIT");
      await guard.end();
    }
    expect(await demoted).toMatchObject({ ok: { id: target.id, role: "ADMIN" } });
    // A SuperAdmin token of a user who is an ADMIN now: refused, and its session ended.
    await expect(t.client(signedIn!.accessToken).auth.me.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    await expect(t.client().auth.refresh.mutate({ refreshToken: signedIn!.refreshToken })).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
  });
});

describe("a SuperAdmin's change queued behind their own demotion", () => {
  it("is refused, and the account it would have promoted keeps its role and password", async () => {
    const actor = await t.userWithRole("SUPERADMIN");
    const target = await t.userWithRole("USER");
    const prisma = t.app.deps.db.prisma;
    const hashBefore = (await prisma.user.findUniqueOrThrow({ where: { id: target.id } })).passwordHash;
    const guard = await holder();
    let demoted, promoted;
    try {
      await guard.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard:last-superadmin'))`);
      // Root demotes the actor; the actor, whose token passed the role check as the request
      // arrived, makes the target a SuperAdmin with a password of their choosing. Both queue, in that order.
      demoted = settled(t.client(rootToken).users.update.mutate({ id: actor.id, role: "ADMIN" }));
      await untilLockWaiters(guard, 1);
      promoted = t.client(actor.token).users.update.mutate({ id: target.id, role: "SUPERADMIN", password: "a password the actor knows" }).then(
        (ok) => ({ ok }),
        (error: { message?: string; data?: { code?: unknown; httpStatus?: unknown } }) => ({ message: error.message, code: error.data?.code, httpStatus: error.data?.httpStatus }),
      );
      await untilLockWaiters(guard, 2, { orSettled: promoted });
    } finally {
      await guard.query("COMMIT");
      await guard.end();
    }
    expect(await demoted).toMatchObject({ ok: { id: actor.id, role: "ADMIN" } });
    expect(await promoted).toEqual({ message: "Your session has ended; sign in again", code: "UNAUTHORIZED", httpStatus: 401 });
    const after = await prisma.user.findUniqueOrThrow({ where: { id: target.id } });
    expect(after.role).toBe("USER");
    expect(after.passwordHash).toBe(hashBefore);
    await expect(t.client().auth.login.mutate({ email: target.email, password: "a password the actor knows" })).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
  });
});

describe("a change that waits for each of its locks in turn", () => {
  it("lands after waiting longer in all than Prisma's default 5 s bound on a transaction, each wait under the lock-wait bound", async () => {
    const target = await t.userWithRole("USER");
    const guard = await holder();
    const row = await holder();
    let updated;
    try {
      await guard.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard:last-superadmin'))`);
      await lockUser(row, target.id);
      updated = settled(t.client(rootToken).users.update.mutate({ id: target.id, budgetUsd: 12 }));
      // About 2.7 s at the guard's lock, then about 2.7 s at the target's row: each well under
      // the 4 s lock-wait bound (room for a slow machine), 5.4 s in all.
      await untilLockWaiters(guard, 1);
      await new Promise((resolve) => setTimeout(resolve, 2_700));
      await guard.query("COMMIT");
      await untilLockWaiters(row, 1, { orSettled: updated });
      await new Promise((resolve) => setTimeout(resolve, 2_700));
    } finally {
      await guard.query("ROLLBACK").catch(() => {});
      await guard.end();
      await row.query("COMMIT");
      await row.end();
    }
    expect(await updated).toMatchObject({ ok: { id: target.id, budgetUsd: 12 } });
    expect((await t.app.deps.db.prisma.user.findUniqueOrThrow({ where: { id: target.id } })).budgetUsd).toBe(12);
  }, 30_000);
});
