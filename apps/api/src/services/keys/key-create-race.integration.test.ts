/**
 * A key being made at the instant its owner's keys are revoked, their password reset or their
 * account disabled does not outlive that change: either it is committed first and revoked
 * with the others, or it is refused because the session asking for it has ended. The
 * interleavings are forced on PostgreSQL by sessions that hold the rows the calls need (the
 * user's, the user's session's) and let go in a chosen order. Embedded PGlite serves one
 * connection at a time, so these calls cannot interleave there.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCClientError } from "@switchboard/client";
import type { TUserUpdateInput } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { openTransaction, untilLockWaiters } from "../../../test/database.ts";
import { bearer } from "../../../test/http.ts";

let t: TestApp;
let rootToken: string;

beforeAll(async () => {
  // Users and revocations are re-read only when a change is heard, never by the resync during
  // a test: a request that arrives between a change's write and its being heard passes its
  // access token's check, as it does on any instance the change has not reached yet.
  t = await startTestApp({ appOptions: { auth: { resyncIntervalMs: 10 * 60_000 } } });
  rootToken = await t.login();
}, 60_000);
afterAll(async () => t?.close());

const holder = () => openTransaction(t.app.deps.env.DATABASE_URL!);

/** The call itself, awaited later: its refusal is not an unhandled rejection meanwhile. */
function quiet<T>(call: Promise<T>): Promise<T> {
  call.catch(() => {});
  return call;
}

const lockUser = (client: pg.Client, id: string) => client.query(`SELECT 1 FROM "User" WHERE "id" = $1 FOR UPDATE`, [id]);

async function modelsWith(key: string): Promise<number> {
  return (await fetch(`${t.url}/v1/models`, { headers: bearer(key) })).status;
}

/** keys.create's refusal when the session asking has ended meanwhile. */
const SESSION_ENDED = { message: "Your session has ended; sign in again", data: { httpStatus: 401, code: "UNAUTHORIZED" } };

const liveKeysOf = (userId: string) => t.app.deps.db.prisma.apiKey.count({ where: { userId, revokedAt: null } });

describe("keys.create racing the revocation of its owner's keys", () => {
  it("a key whose creation waited ahead of users.update {revokeKeys} is revoked by it", async () => {
    const owner = await t.userWithRole("USER");
    const user = await holder();
    let made: Promise<{ key: string }> | undefined;
    let revoked: Promise<unknown> | undefined;
    try {
      // The key's creation waits for the owner's row first, then the revocation.
      await lockUser(user, owner.id);
      made = quiet(t.client(owner.token).keys.create.mutate({ name: "in flight" }));
      await untilLockWaiters(user, 1);
      revoked = quiet(t.client(rootToken).users.update.mutate({ id: owner.id, revokeKeys: true }));
      // Without the revocation taking that row's lock, it answers here, having missed the key.
      await untilLockWaiters(user, 2, { orSettled: revoked });
    } finally {
      await user.query("COMMIT");
      await user.end();
    }
    const key = await made!;
    await revoked;
    expect(await modelsWith(key.key)).toBe(401);
    expect(await liveKeysOf(owner.id)).toBe(0);
  });

  /**
   * The change writes the user's row and is then held at the session's, its transaction
   * holding the user's row; the key's creation (its access token checked when it arrived)
   * waits for that row. The change then ends the session and commits; the creation proceeds
   * after it.
   */
  async function createQueuedPastChange(change: Omit<TUserUpdateInput, "id">) {
    const owner = await t.userWithRole("USER");
    // Heard of by this instance (its directory holds the user as signed in), as before any change.
    await t.client(owner.token).keys.list.query();
    const session = await holder();
    let made: Promise<{ key: string }> | undefined;
    let changed: Promise<unknown> | undefined;
    try {
      await session.query(`SELECT 1 FROM "Session" WHERE "userId" = $1 FOR UPDATE`, [owner.id]);
      changed = quiet(t.client(rootToken).users.update.mutate({ id: owner.id, ...change }));
      // Held ending the sessions, the user's row written.
      await untilLockWaiters(session, 1);
      made = quiet(t.client(owner.token).keys.create.mutate({ name: "in flight" }));
      // Without the change holding the user's row, the key is made here, its session still open.
      await untilLockWaiters(session, 2, { orSettled: made });
      await session.query("COMMIT");
    } finally {
      await session.query("ROLLBACK").catch(() => {});
      await session.end();
    }
    await changed;
    const outcome = await made!.then(
      (key) => key,
      (error: unknown) => error,
    );
    return { owner, outcome };
  }

  it("a key asked for with a session that a password reset with revokeKeys ended meanwhile is refused", async () => {
    const { owner, outcome } = await createQueuedPastChange({ password: "a brand new passphrase", revokeKeys: true });
    if (!(outcome instanceof TRPCClientError)) {
      // Made after the change answered: it must not act.
      expect(await modelsWith((outcome as { key: string }).key)).toBe(401);
    }
    expect(outcome).toBeInstanceOf(TRPCClientError);
    expect(outcome).toMatchObject(SESSION_ENDED);
    expect(await liveKeysOf(owner.id)).toBe(0);
  });

  it("a key asked for by a user disabled meanwhile is refused, and nothing acts once they are enabled again", async () => {
    const { owner, outcome } = await createQueuedPastChange({ disabled: true });
    await t.client(rootToken).users.update.mutate({ id: owner.id, disabled: false });
    if (!(outcome instanceof TRPCClientError)) expect(await modelsWith((outcome as { key: string }).key)).toBe(401);
    expect(outcome).toBeInstanceOf(TRPCClientError);
    expect(outcome).toMatchObject(SESSION_ENDED);
    expect(await liveKeysOf(owner.id)).toBe(0);
  });
});
