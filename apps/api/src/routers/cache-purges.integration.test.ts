/**
 * Every cache purge that took effect leaves a record (`cache.purges`, ADMIN): who purged,
 * signed in or with which API key, whose answers (a user's or everyone's) and the purge time
 * that holds. A purge that is refused, names nobody or cannot reach the shared store leaves
 * none. A user's purges of their own answers are kept as long as the request log. The list is a read for ADMINs: a `read:metrics` key may read it, and so may ADMINs
 * during a global freeze.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TCachePurgeRecord } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startTcpProxy, testRedisUrl } from "../../test/redis.ts";

let t: TestApp;
let root: string;

beforeAll(async () => {
  t = await startTestApp();
  root = await t.login();
}, 60_000);
afterAll(async () => t?.close());

async function purges(token: string, input?: unknown): Promise<{ items: TCachePurgeRecord[]; nextCursor: string | null }> {
  const res = await trpcQuery(t.url, "cache.purges", input, bearer(token));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.result.data;
}

describe("cache.purges", () => {
  it("records who purged whose answers, how and when; a refused purge records nothing", async () => {
    const user = await t.userWithRole("USER");
    const other = await t.userWithRole("USER");
    const admin = await t.userWithRole("ADMIN");

    // A USER's own purge, signed in.
    const own = await trpcMutation(t.url, "cache.purge", {}, bearer(user.token));
    expect(own.status).toBe(200);
    let [last] = (await purges(admin.token)).items;
    expect(last).toMatchObject({ actorId: user.id, actorEmail: user.email, via: "session", actorKeyId: null, actorKeyName: null, userId: user.id, userEmail: user.email, everyone: false });
    expect(last!.purgedAt).toBe(own.body.result.data.purgedAt);

    // Refused (another user's, everyone's, both at once), or naming nobody: nothing recorded.
    const before = (await purges(admin.token)).items.length;
    expect((await trpcMutation(t.url, "cache.purge", { userId: other.id }, bearer(user.token))).status).toBe(403);
    expect((await trpcMutation(t.url, "cache.purge", { everyone: true }, bearer(user.token))).status).toBe(403);
    expect((await trpcMutation(t.url, "cache.purge", { userId: other.id, everyone: true }, bearer(admin.token))).status).toBe(400);
    expect((await trpcMutation(t.url, "cache.purge", { userId: randomUUID() }, bearer(admin.token))).status).toBe(404);
    const adminKey = await t.client(admin.token).keys.create.mutate({ name: "purging app", scopes: ["chat"] });
    expect((await trpcMutation(t.url, "cache.purge", { everyone: true }, bearer(adminKey.key))).status).toBe(403);
    expect((await purges(admin.token)).items).toHaveLength(before);

    // An ADMIN's purge of another user's answers names both.
    expect((await trpcMutation(t.url, "cache.purge", { userId: other.id }, bearer(admin.token))).status).toBe(200);
    [last] = (await purges(admin.token)).items;
    expect(last).toMatchObject({ actorId: admin.id, actorEmail: admin.email, via: "session", userId: other.id, userEmail: other.email, everyone: false });

    // With an API key: which key, by its name.
    expect((await trpcMutation(t.url, "cache.purge", {}, bearer(adminKey.key))).status).toBe(200);
    [last] = (await purges(admin.token)).items;
    expect(last).toMatchObject({ actorId: admin.id, via: "key", actorKeyId: adminKey.id, actorKeyName: "purging app", userId: admin.id });

    // Everyone's.
    const everyone = await trpcMutation(t.url, "cache.purge", { everyone: true }, bearer(root));
    expect(everyone.status).toBe(200);
    [last] = (await purges(admin.token)).items;
    expect(last).toMatchObject({ actorEmail: "root@switchboard.test", via: "session", userId: null, userEmail: null, everyone: true, purgedAt: everyone.body.result.data.purgedAt });

    // The record outlives the accounts it names.
    await t.client(root).users.delete.mutate({ id: other.id });
    expect((await purges(admin.token)).items.find((p) => p.userId === other.id)).toMatchObject({ userEmail: other.email });
  });

  it("keeps a user's purges of their own answers as long as the request log, an ADMIN's of others' for good", async () => {
    const user = await t.userWithRole("USER");
    const admin = await t.userWithRole("ADMIN");
    expect((await trpcMutation(t.url, "cache.purge", {}, bearer(user.token))).status).toBe(200);
    expect((await trpcMutation(t.url, "cache.purge", { userId: user.id }, bearer(admin.token))).status).toBe(200);
    // Both dated past the request log's retention (30 days here).
    const old = new Date(Date.now() - 31 * 86_400_000);
    await t.app.deps.db.prisma.cachePurge.updateMany({ where: { userId: user.id }, data: { createdAt: old } });
    // The user's next purge drops their old one; the ADMIN's record stays.
    expect((await trpcMutation(t.url, "cache.purge", {}, bearer(user.token))).status).toBe(200);
    const left = await t.app.deps.db.prisma.cachePurge.findMany({ where: { userId: user.id }, orderBy: { createdAt: "asc" } });
    expect(left.map((r) => [r.actorId, r.createdAt.getTime() === old.getTime()])).toEqual([
      [admin.id, true],
      [user.id, false],
    ]);
  });

  it("lists newest first, a page at a time, for ADMINs only", async () => {
    const admin = await t.userWithRole("ADMIN");
    for (let i = 0; i < 3; i++) expect((await trpcMutation(t.url, "cache.purge", {}, bearer(admin.token))).status).toBe(200);
    const all = (await purges(admin.token, { limit: 100 })).items;
    expect(all.map((p) => p.createdAt)).toEqual([...all.map((p) => p.createdAt)].sort().reverse());

    const first = await purges(admin.token, { limit: 2 });
    expect(first.items).toEqual(all.slice(0, 2));
    expect(first.nextCursor).toBe(all[1]!.id);
    const second = await purges(admin.token, { limit: 2, cursor: first.nextCursor });
    expect(second.items).toEqual(all.slice(2, 4));

    const user = await t.userWithRole("USER");
    expect((await trpcQuery(t.url, "cache.purges", undefined, bearer(user.token))).status).toBe(403);
    expect((await trpcQuery(t.url, "cache.purges", undefined)).status).toBe(401);
    expect((await trpcQuery(t.url, "cache.purges", { limit: 1e9 }, bearer(admin.token))).status).toBe(400);
  });
});

describe("a cache.purges cursor whose record was dropped", () => {
  it("is a 404 that says to start again, not an empty last page", async () => {
    const user = await t.userWithRole("USER");
    const admin = await t.userWithRole("ADMIN");
    expect((await trpcMutation(t.url, "cache.purge", {}, bearer(user.token))).status).toBe(200);
    expect((await trpcMutation(t.url, "cache.purge", { userId: user.id }, bearer(admin.token))).status).toBe(200);
    // Both past the request log's retention, the ADMIN's older: it stays, the user's own goes.
    const day = 86_400_000;
    const prisma = t.app.deps.db.prisma;
    await prisma.cachePurge.updateMany({ where: { actorId: user.id }, data: { createdAt: new Date(Date.now() - 40 * day) } });
    await prisma.cachePurge.updateMany({ where: { actorId: admin.id, userId: user.id }, data: { createdAt: new Date(Date.now() - 41 * day) } });
    const all = (await purges(admin.token, { limit: 100 })).items;
    const own = all.findIndex((p) => p.actorId === user.id);
    expect(all[own + 1]).toMatchObject({ actorId: admin.id, userId: user.id });
    // A page that ends on the user's record; then their next purge drops it.
    const page = await purges(admin.token, { limit: own + 1 });
    expect(page.nextCursor).toBe(all[own]!.id);
    expect((await trpcMutation(t.url, "cache.purge", {}, bearer(user.token))).status).toBe(200);
    const next = await trpcQuery(t.url, "cache.purges", { limit: own + 1, cursor: page.nextCursor }, bearer(admin.token));
    expect(next.status, JSON.stringify(next.body)).toBe(404);
    expect(next.body.error.message).toMatch(/no longer exists; start again from the first page/);
    // From the first page, the ADMIN's record is still listed.
    expect((await purges(admin.token, { limit: 100 })).items.map((p) => p.id)).toContain(all[own + 1]!.id);
  });
});

describe("cache.purges as read-only observability", () => {
  it("answers an ADMIN's key with read:metrics, and ADMINs during a global freeze", async () => {
    const admin = await t.userWithRole("ADMIN");
    const keys = t.client(admin.token).keys;
    const reader = await keys.create.mutate({ name: "dashboards", scopes: ["read:metrics"] });
    const chatter = await keys.create.mutate({ name: "app", scopes: ["chat"] });
    expect((await trpcQuery(t.url, "cache.purges", undefined, bearer(reader.key))).status).toBe(200);
    expect((await trpcQuery(t.url, "cache.purges", undefined, bearer(chatter.key))).status).toBe(403);

    const user = await t.userWithRole("USER");
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "purges stay readable" }, bearer(root))).status).toBe(200);
    try {
      expect((await trpcQuery(t.url, "cache.purges", undefined, bearer(admin.token))).status).toBe(200);
      expect((await trpcQuery(t.url, "cache.purges", undefined, bearer(user.token))).status).toBe(503);
      // A purge is no read: refused while frozen, and so not recorded.
      const before = (await purges(admin.token)).items.length;
      expect((await trpcMutation(t.url, "cache.purge", {}, bearer(admin.token))).status).toBe(503);
      expect((await purges(admin.token)).items).toHaveLength(before);
    } finally {
      expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
    }
  });
});

describe("a purge the shared store cannot take", () => {
  it("is a 503 and leaves no record", async () => {
    const proxy = await startTcpProxy(testRedisUrl());
    const cut = await startTestApp({ env: { REDIS_URL: proxy.url } });
    try {
      const token = await cut.login();
      expect((await cut.client(token).cache.purge.mutate({})).everyone).toBe(false);
      await proxy.cut();
      await expect.poll(() => cut.app.deps.coordination.state(), { timeout: 20_000 }).toBe("degraded");
      const refused = await trpcMutation(cut.url, "cache.purge", { everyone: true }, bearer(token));
      expect(refused.status).toBe(503);
      expect(refused.body.error.message).toMatch(/nothing was purged/);
      const recorded = (await trpcQuery(cut.url, "cache.purges", undefined, bearer(token))).body.result.data.items as TCachePurgeRecord[];
      expect(recorded.map((p) => p.everyone)).toEqual([false]);
    } finally {
      await cut.close();
      await proxy.close();
    }
  }, 60_000);
});
