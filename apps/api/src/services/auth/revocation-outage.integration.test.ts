/**
 * Revocations while Redis is unreachable (docs/security.md): pushes are lost, but every
 * instance re-reads revocations and its cached users from PostgreSQL every ~2 s, so a
 * logout or a deleted user is refused everywhere within seconds; valid tokens keep working,
 * since the request path reads local state only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { startTcpProxy, testRedisUrl, uniquePrefix, type TcpProxy } from "../../../test/redis.ts";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TcpProxy;
/** A reaches Redis through the proxy (cut to isolate A); B connects directly. */
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await startTcpProxy(testRedisUrl());
  const prefix = uniquePrefix("revocation-outage");
  a = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix, env: { REDIS_URL: proxy.url } });
  b = await startTestApp({ databaseUrl: db.url, redisKeyPrefix: prefix });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await proxy?.close();
  await db?.drop();
});

const me = (t: TestApp, token: string) => trpcQuery(t.url, "auth.me", undefined, bearer(token));

async function statusEventually(probe: () => Promise<number>, wanted: number, deadlineMs = 10_000): Promise<number> {
  const until = Date.now() + deadlineMs;
  let status = await probe();
  while (status !== wanted && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    status = await probe();
  }
  return status;
}

describe("with one instance cut off from Redis", () => {
  it("valid tokens keep working, and logouts and deletions on either side reach the other within seconds", async () => {
    const stays = await a.login();
    const loggedOutOnB = await a.login();
    const loggedOutOnA = await b.login();
    const victim = await b.userWithRole("USER");
    for (const token of [stays, loggedOutOnB, loggedOutOnA, victim.token]) {
      expect((await me(a, token)).status).toBe(200);
      expect((await me(b, token)).status).toBe(200);
    }

    await proxy.cut();
    const deadline = Date.now() + 20_000;
    while (a.app.deps.coordination.state() !== "degraded" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(a.app.deps.coordination.state()).toBe("degraded");

    // The request path needs no Redis: a valid token is still accepted on A, and signing in
    // still works (the attempt counters fall back to the instance's memory).
    expect((await me(a, stays)).status).toBe(200);
    expect((await me(a, await a.login())).status).toBe(200);

    // B → A: the push cannot reach A; A's database resync brings it.
    expect((await trpcMutation(b.url, "auth.logout", {}, bearer(loggedOutOnB))).status).toBe(200);
    expect(await statusEventually(() => me(a, loggedOutOnB).then((r) => r.status), 401)).toBe(401);
    const root = await b.login();
    expect((await trpcMutation(b.url, "users.delete", { id: victim.id }, bearer(root))).status).toBe(200);
    expect(await statusEventually(() => me(a, victim.token).then((r) => r.status), 401)).toBe(401);

    // A → B: A's publish fails; B's database resync brings it.
    expect((await trpcMutation(a.url, "auth.logout", {}, bearer(loggedOutOnA))).status).toBe(200);
    expect(await statusEventually(() => me(b, loggedOutOnA).then((r) => r.status), 401)).toBe(401);

    expect((await me(a, stays)).status).toBe(200);
    await proxy.restore();
  });
});
