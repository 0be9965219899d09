/**
 * Sessions and users across instances, with nothing read from Redis or PostgreSQL on the
 * request path: revocations and deletions are pushed to every instance and resynced from the
 * database, so a user deleted by `users.delete` or straight from the database is refused with
 * 401 on every instance within seconds, and never answered with a 500 meanwhile. Also: a
 * token in `?connectionParams=` authenticates subscriptions only.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { untilLockWaiters } from "../../../test/database.ts";

let a: TestApp;
let b: TestApp;
/**
 * One more instance of the cluster, that re-reads users, revocations and API keys only once a
 * minute: what reaches it within the tests' wait came by push, however long the wait.
 */
let pushOnly: TestApp;
let root: string;

beforeAll(async () => {
  a = await startTestApp({ mode: "cluster" });
  const cluster = { mode: "cluster", databaseUrl: a.app.deps.env.DATABASE_URL!, redisKeyPrefix: a.app.deps.env.REDIS_KEY_PREFIX } as const;
  b = await startTestApp(cluster);
  pushOnly = await startTestApp({ ...cluster, appOptions: { auth: { resyncIntervalMs: 60_000 }, keys: { resyncIntervalMs: 60_000 } } });
  root = await a.login();
});
afterAll(async () => {
  await pushOnly?.close();
  await b?.close();
  await a?.close();
});

const me = (t: TestApp, token: string) => trpcQuery(t.url, "auth.me", undefined, bearer(token));

/** Polls until `check` holds (or the deadline passes), collecting every status seen. */
async function eventually(probe: () => Promise<number>, done: (status: number) => boolean, deadlineMs = 10_000) {
  const seen: number[] = [];
  const until = Date.now() + deadlineMs;
  for (;;) {
    const status = await probe();
    seen.push(status);
    if (done(status) || Date.now() > until) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("users.delete", () => {
  it("ends the user's sessions on every instance at once and removes their data", async () => {
    const victim = await a.userWithRole("USER");
    const sent = await trpcMutation(b.url, "chat.send", { message: "remember me" }, bearer(victim.token));
    expect(sent.status).toBe(200);
    expect((await me(b, victim.token)).status).toBe(200);
    const key = (await trpcMutation(a.url, "keys.create", { name: "victim's key" }, bearer(victim.token))).body.result.data.key as string;
    expect((await me(b, key)).status).toBe(200);

    const res = await trpcMutation(a.url, "users.delete", { id: victim.id }, bearer(root));
    expect(res.status).toBe(200);
    expect(res.body.result.data).toEqual({ id: victim.id, deleted: true });

    const seen = await eventually(() => me(b, victim.token).then((r) => r.status), (s) => s === 401);
    expect(seen.at(-1)).toBe(401);
    expect((await me(a, victim.token)).status).toBe(401);
    const keySeen = await eventually(() => me(b, key).then((r) => r.status), (s) => s === 401);
    expect(keySeen.at(-1)).toBe(401);
    const prisma = a.app.deps.db.prisma;
    expect(await prisma.conversation.count({ where: { userId: victim.id } })).toBe(0);
    expect(await prisma.session.count({ where: { userId: victim.id } })).toBe(0);
    // Signing in again is impossible, and the account's email can be reused.
    expect((await trpcMutation(a.url, "auth.login", { email: victim.email, password: "a-long-enough-password" })).status).toBe(401);
  });

  it("keeps the emergency audit trail of a deleted SuperAdmin readable", async () => {
    const other = await a.userWithRole("SUPERADMIN");
    expect((await trpcMutation(a.url, "emergency.freeze", { reason: "drill by a soon-deleted admin", scope: "chat" }, bearer(other.token))).status).toBe(200);
    expect((await trpcMutation(a.url, "emergency.unfreeze", {}, bearer(other.token))).status).toBe(200);
    expect((await trpcMutation(a.url, "users.delete", { id: other.id }, bearer(root))).status).toBe(200);
    const history = await trpcQuery(b.url, "emergency.history", {}, bearer(root));
    expect(history.status).toBe(200);
    expect(JSON.stringify(history.body.result.data.items)).toContain("drill by a soon-deleted admin");
  });

  it("works during a global freeze (it contains a leak), on every instance", async () => {
    const victim = await a.userWithRole("USER");
    expect((await trpcMutation(a.url, "emergency.freeze", { reason: "leak: delete a user" }, bearer(root))).status).toBe(200);
    try {
      expect((await trpcMutation(b.url, "users.create", { email: `frozen-${Date.now()}@switchboard.test`, password: "a-long-enough-password" }, bearer(root))).status).toBe(503);
      expect((await trpcMutation(b.url, "users.delete", { id: victim.id }, bearer(root))).status).toBe(200);
    } finally {
      expect((await trpcMutation(a.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
    }
  });

  it("refuses deleting yourself (400), an unknown id (404), and callers below SUPERADMIN (403)", async () => {
    const self = await a.app.deps.db.prisma.user.findUniqueOrThrow({ where: { email: TEST_SUPERADMIN.email } });
    expect((await trpcMutation(a.url, "users.delete", { id: self.id }, bearer(root))).status).toBe(400);
    expect((await trpcMutation(a.url, "users.delete", { id: "00000000-0000-4000-8000-000000000000" }, bearer(root))).status).toBe(404);
    const admin = await a.userWithRole("ADMIN");
    expect((await trpcMutation(a.url, "users.delete", { id: self.id }, bearer(admin.token))).status).toBe(403);
    expect(await a.app.deps.db.prisma.user.count({ where: { id: self.id } })).toBe(1);
  });

  it("two SuperAdmins deleting each other at once never leave the fleet without one", async () => {
    const x = await a.userWithRole("SUPERADMIN");
    const y = await a.userWithRole("SUPERADMIN");
    // Take the bootstrap SuperAdmin out of the count for this test (disabled ones do not count).
    const self = await a.app.deps.db.prisma.user.findUniqueOrThrow({ where: { email: TEST_SUPERADMIN.email } });
    expect((await trpcMutation(a.url, "users.update", { id: self.id, disabled: true }, bearer(x.token))).status).toBe(200);
    try {
      const [one, two] = await overlapping(a.app.deps.env.DATABASE_URL!, [x.id, y.id], () => [
        trpcMutation(a.url, "users.delete", { id: y.id }, bearer(x.token)),
        trpcMutation(b.url, "users.delete", { id: x.id }, bearer(y.token)),
      ]);
      // One lands; the other, checked under the last-SuperAdmin guard's lock after it, finds its
      // sender changed by the one that landed: refused as a session that has ended, not a 500.
      expect([one.status, two.status].sort(), JSON.stringify([one.body, two.body])).toEqual([200, 401]);
      expect(JSON.stringify(one.status === 401 ? one.body : two.body)).toContain("Your session has ended");
      const kept = one.status === 200 ? x : y;
      expect(await a.app.deps.db.prisma.user.count({ where: { id: { in: [x.id, y.id] } } })).toBe(1);
      expect(await a.app.deps.db.prisma.user.findUniqueOrThrow({ where: { id: kept.id }, select: { role: true, disabled: true } })).toEqual({ role: "SUPERADMIN", disabled: false });
    } finally {
      await a.app.deps.db.prisma.user.update({ where: { id: self.id }, data: { disabled: false } });
      await a.app.deps.auth.userChanged(self.id);
      root = await a.login();
    }
  });
});

/**
 * Runs both calls held at their first write to either user's row behind a session holding
 * both rows, then lets them go together: they overlap for certain (each past its sign-in check
 * and its own read), as two SuperAdmins clicking at once may.
 */
async function overlapping<T>(databaseUrl: string, ids: [string, string], calls: () => [Promise<T>, Promise<T>]): Promise<[T, T]> {
  const holder = new pg.Client({ connectionString: databaseUrl });
  await holder.connect();
  try {
    await holder.query("BEGIN");
    await holder.query(`SELECT "id" FROM "User" WHERE "id" IN ($1, $2) FOR UPDATE`, ids);
    const both = Promise.all(calls());
    await untilLockWaiters(holder, 2);
    await holder.query("COMMIT");
    return await both;
  } finally {
    await holder.end();
  }
}

describe("users.update", () => {
  // Each change also resets the password, which the refused one must leave as it was.
  it.each([
    ["demoting", { role: "USER" }],
    ["disabling", { disabled: true }],
  ] as const)("two SuperAdmins %s each other at once never leave the fleet without an enabled one", async (_, change) => {
    const x = await a.userWithRole("SUPERADMIN");
    const y = await a.userWithRole("SUPERADMIN");
    // Take every other SuperAdmin (the bootstrap one, those earlier tests left) out of the count (disabled ones do not count).
    const prisma = a.app.deps.db.prisma;
    const others = await prisma.user.findMany({ where: { role: "SUPERADMIN", disabled: false, id: { notIn: [x.id, y.id] } }, select: { id: true } });
    await prisma.user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabled: true } });
    for (const other of others) await a.app.deps.auth.userChanged(other.id);
    try {
      const [one, two] = await overlapping(a.app.deps.env.DATABASE_URL!, [x.id, y.id], () => [
        trpcMutation(a.url, "users.update", { id: y.id, ...change, password: "reset-by-x-0123456789" }, bearer(x.token)),
        trpcMutation(b.url, "users.update", { id: x.id, ...change, password: "reset-by-y-0123456789" }, bearer(y.token)),
      ]);
      // One lands; the other, checked under the last-SuperAdmin guard's lock after it, finds its
      // sender changed by the one that landed: refused as a session that has ended, not a 500.
      expect([one.status, two.status].sort(), JSON.stringify([one.body, two.body])).toEqual([200, 401]);
      expect(JSON.stringify(one.status === 401 ? one.body : two.body)).toContain("Your session has ended");
      const [changed, refused] = one.status === 200 ? [y, x] : [x, y];
      expect(await prisma.user.findUniqueOrThrow({ where: { id: refused.id }, select: { role: true, disabled: true } })).toEqual({ role: "SUPERADMIN", disabled: false });
      expect(await prisma.user.findUniqueOrThrow({ where: { id: changed.id }, select: { role: true, disabled: true } })).toEqual({ role: "SUPERADMIN", disabled: false, ...change });
      // The refused change left the user as it was, password included.
      expect(await a.login(refused.email, refused.password)).toBeTruthy();
    } finally {
      await prisma.user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabled: false } });
      for (const other of others) await a.app.deps.auth.userChanged(other.id);
      root = await a.login();
    }
  });
});

describe("a user removed from the database by other means", () => {
  it("is refused with 401 on every instance within seconds, never a 500", async () => {
    const victim = await a.userWithRole("USER");
    expect((await me(a, victim.token)).status).toBe(200);
    expect((await me(b, victim.token)).status).toBe(200);
    await a.app.deps.db.prisma.$executeRaw`DELETE FROM "User" WHERE "id" = ${victim.id}`;
    for (const t of [a, b]) {
      const seen = await eventually(
        () => trpcMutation(t.url, "chat.send", { message: "still here?" }, bearer(victim.token)).then((r) => r.status),
        (s) => s === 401,
      );
      expect(seen.at(-1), JSON.stringify(seen)).toBe(401);
      expect(seen.every((s) => s === 200 || s === 401), JSON.stringify(seen)).toBe(true);
      expect((await me(t, victim.token)).status).toBe(401);
    }
  });

  it("a chat.send racing the deletion is a 401, not a 500 on the foreign key", async () => {
    const victim = await a.userWithRole("USER");
    expect((await me(b, victim.token)).status).toBe(200); // b now caches the user as live
    await a.app.deps.db.prisma.$executeRaw`DELETE FROM "User" WHERE "id" = ${victim.id}`;
    const res = await trpcMutation(b.url, "chat.send", { message: "write after delete" }, bearer(victim.token));
    expect([200, 401]).toContain(res.status);
  });
});

describe("disable and enable across instances", () => {
  it("a disabled user is refused on the other instance at once, and re-enabled is accepted there at once", async () => {
    const user = await a.userWithRole("USER");
    const key = (await trpcMutation(a.url, "keys.create", { name: "held across" }, bearer(user.token))).body.result.data.key as string;
    // Asked of the instance that does not re-read users, sessions or keys for a minute, with a
    // call it answers from what it holds (auth.me would read the user's row itself), and that
    // an API key may make: a change can only reach it by push.
    const ask = (token: string) => fetch(`${pushOnly.url}/v1/models`, { headers: bearer(token) }).then((r) => r.status);
    expect(await ask(user.token)).toBe(200); // it caches the user as live
    expect(await ask(key)).toBe(200);
    expect((await trpcMutation(a.url, "users.update", { id: user.id, disabled: true }, bearer(root))).status).toBe(200);
    const seen = await eventually(() => ask(user.token), (s) => s === 401);
    expect(seen.at(-1)).toBe(401);
    // The key, unlike the token, is not revoked: it is refused because the instance now holds
    // the user as disabled.
    const keySeen = await eventually(() => ask(key), (s) => s === 401);
    expect(keySeen.at(-1)).toBe(401);
    expect((await trpcMutation(a.url, "users.update", { id: user.id, disabled: false }, bearer(root))).status).toBe(200);
    // The same key again: only the push can replace the disabled user the instance holds (a
    // fresh token alone would pass without it, its user not held since the disable push).
    const back = await eventually(() => ask(key), (s) => s === 200);
    expect(back.at(-1), JSON.stringify(back)).toBe(200);
    const fresh = await a.login(user.email, "a-long-enough-password");
    expect(await ask(fresh)).toBe(200);
  });
});

describe("session revocations reach every instance", () => {
  it("a session revoked in the database only (no push) is refused everywhere within seconds", async () => {
    const tokens = (await trpcMutation(a.url, "auth.login", TEST_SUPERADMIN)).body.result.data;
    expect((await me(b, tokens.accessToken)).status).toBe(200);
    await a.app.deps.db.prisma.session.updateMany({ where: { id: tokens.refreshToken.split(".")[0] }, data: { revokedAt: new Date(), revokedReason: "test" } });
    for (const t of [a, b]) {
      const seen = await eventually(() => me(t, tokens.accessToken).then((r) => r.status), (s) => s === 401);
      expect(seen.at(-1)).toBe(401);
    }
  });

  it("a logout is refused on the other instance at once (pushed)", async () => {
    const tokens = (await trpcMutation(a.url, "auth.login", TEST_SUPERADMIN)).body.result.data;
    // On the instance that does not re-read revocations for a minute: it can only learn by push.
    expect((await me(pushOnly, tokens.accessToken)).status).toBe(200);
    expect((await trpcMutation(a.url, "auth.logout", {}, bearer(tokens.accessToken))).status).toBe(200);
    const seen = await eventually(() => me(pushOnly, tokens.accessToken).then((r) => r.status), (s) => s === 401);
    expect(seen.at(-1)).toBe(401);
  });
});

describe("tokens in ?connectionParams=", () => {
  const params = (token: string) => `connectionParams=${encodeURIComponent(JSON.stringify({ token }))}`;

  it("do not authenticate a mutation or a query", async () => {
    const create = await fetch(`${a.url}/trpc/users.create?${params(root)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `url-token-${Date.now()}@switchboard.test`, password: "a-long-enough-password", role: "SUPERADMIN" }),
    });
    expect(create.status).toBe(401);
    expect((await fetch(`${a.url}/trpc/auth.me?${params(root)}`)).status).toBe(401);
    expect((await fetch(`${a.url}/trpc/emergency.unfreeze?${params(root)}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
  });

  it("still authenticate a subscription (EventSource cannot send headers)", async () => {
    const input = encodeURIComponent(JSON.stringify({ message: "stream via url token" }));
    const withToken = await fetch(`${a.url}/trpc/chat.stream?input=${input}&${params(root)}`, { headers: { accept: "text/event-stream" } });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toMatch(/chat_complete/);
    const without = await fetch(`${a.url}/trpc/chat.stream?input=${input}`, { headers: { accept: "text/event-stream" } });
    expect(await without.text()).toMatch(/UNAUTHORIZED/);
  });
});
