/**
 * The sign-in limiter cannot be raced: each attempt reserves its slot atomically before the
 * password is checked. Reproduced exactly as attacked: one `?batch=1` request with 39 wrong
 * passwords and then the right one; 40 parallel requests over two instances (two real server
 * processes on one PostgreSQL and Redis); a flood of sign-ins against the argon2 queue.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiProcess, CLUSTER_SUPERADMIN, type ApiProcess } from "../../../test/api-process.ts";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../../test/app.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { testRedisUrl, uniquePrefix } from "../../../test/redis.ts";

const PASSWORD = "a-long-enough-password";

function batchLogin(url: string, attempts: Array<{ email: string; password: string }>) {
  const paths = attempts.map(() => "auth.login").join(",");
  return fetch(`${url}/trpc/${paths}?batch=1`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(Object.fromEntries(attempts.map((a, i) => [i, a]))),
  });
}

describe("one process", () => {
  let t: TestApp;
  beforeAll(async () => {
    // The per-IP limit is raised so each test sees the per-account limit (10) at work.
    // A small argon2 queue (1 running, 4 waiting) keeps the flood test short.
    t = await startTestApp({
      mode: "cluster",
      env: { LOGIN_IP_RATE_LIMIT_PER_MIN: "10000" },
      appOptions: { auth: { passwordWork: { concurrency: 1, maxWaiting: 4 } } },
    });
  });
  afterAll(async () => t?.close());

  it("a ?batch=1 request with 39 wrong passwords then the right one signs nobody in and costs nothing", async () => {
    const victim = await t.userWithRole("USER");
    const attempts = [...Array.from({ length: 39 }, (_, i) => ({ email: victim.email, password: `wrong-${i}` })), { email: victim.email, password: PASSWORD }];
    const res = await batchLogin(t.url, attempts);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Array<{ error?: { message: string; data: { httpStatus: number } }; result?: unknown }>;
    expect(body).toHaveLength(40);
    expect(body.every((item) => item.error?.data.httpStatus === 400 && /cannot be batched/.test(item.error.message))).toBe(true);
    expect(res.headers.getSetCookie()).toEqual([]);
    // Refused before any verification: the account's 10 attempts are all still there.
    for (let i = 0; i < 9; i++) expect((await trpcMutation(t.url, "auth.login", { email: victim.email, password: `again-${i}` })).status).toBe(401);
    expect((await trpcMutation(t.url, "auth.login", { email: victim.email, password: PASSWORD })).status).toBe(200);
  });

  it("auth.* never shares a batch with other calls; a batch of one still works (what httpBatchLink sends)", async () => {
    const token = await t.login();
    const mixed = await fetch(`${t.url}/trpc/health.check,auth.me?batch=1`, { headers: bearer(token) });
    expect(mixed.status).toBe(400);
    const alone = await fetch(`${t.url}/trpc/auth.login?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ 0: TEST_SUPERADMIN }),
    });
    expect(alone.status).toBe(200);
    const others = await fetch(`${t.url}/trpc/health.check,emergency.status?batch=1`);
    expect(others.status).toBe(200);
  });

  it("sequential wrong passwords: after the limit even the right password is refused (429 + Retry-After)", async () => {
    const victim = await t.userWithRole("USER");
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await trpcMutation(t.url, "auth.login", { email: victim.email, password: `wrong-${i}` })).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429]);
    const right = await trpcMutation(t.url, "auth.login", { email: victim.email, password: PASSWORD });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("a flood of sign-ins is bounded by the argon2 queue (503 + Retry-After) while other requests are served", async () => {
    const flood = Array.from({ length: 30 }, (_, i) =>
      trpcMutation(t.url, "auth.login", { email: `flood-${i}@switchboard.test`, password: "whatever" }),
    );
    let floodDone = false;
    const all = Promise.all(flood).then((r) => {
      floodDone = true;
      return r;
    });
    const health = await fetch(`${t.url}/health`);
    expect(health.status).toBe(200);
    expect(floodDone).toBe(false);
    const results = await all;
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
    const busy = results.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(Number(busy[0]!.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("two instances (two server processes on one PostgreSQL and Redis)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: ApiProcess;
  let b: ApiProcess;
  beforeAll(async () => {
    db = await createTestDatabase();
    const shared = { databaseUrl: db.url, redisUrl: testRedisUrl(), redisKeyPrefix: uniquePrefix("signin"), env: { LOGIN_IP_RATE_LIMIT_PER_MIN: "10000" } };
    a = await startApiProcess(shared);
    b = await startApiProcess(shared);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it("40 parallel attempts (39 wrong, then the right one) verify at most 10 passwords in all", async () => {
    const root = (await trpcMutation(a.url, "auth.login", CLUSTER_SUPERADMIN)).body.result.data.accessToken;
    const email = `parallel-${Date.now()}@switchboard.test`;
    expect((await trpcMutation(a.url, "users.create", { email, password: PASSWORD, role: "USER" }, bearer(root))).status).toBe(200);
    const passwords = [...Array.from({ length: 39 }, (_, i) => `wrong-${i}`), PASSWORD];
    const results = await Promise.all(passwords.map((password, i) => trpcMutation(i % 2 ? b.url : a.url, "auth.login", { email, password })));
    const statuses = results.map((r) => r.status);
    const verified = statuses.filter((s) => s === 401 || s === 200).length;
    expect(verified, JSON.stringify(statuses)).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(30);
    // The window is used up on both instances: the right password is refused now.
    expect((await trpcMutation(b.url, "auth.login", { email, password: PASSWORD })).status).toBe(429);
    expect((await trpcMutation(a.url, "auth.login", { email, password: PASSWORD })).status).toBe(429);
    expect((await trpcQuery(a.url, "health.check")).status).toBe(200);
  });
});
