/**
 * Auth over real HTTP against a real server on PostgreSQL + Redis: login, refresh rotation
 * and reuse detection, cluster-wide logout, and a catalogue of bad tokens that must all be
 * answered 401.
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";

const SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";
let t: TestApp;
const GRACE_MS = 300;

beforeAll(async () => {
  // A short refresh grace window, so "reuse after the window" can be shown without waiting 10 s.
  t = await startTestApp({ mode: "cluster", appOptions: { auth: { refreshGraceMs: GRACE_MS } } });
});
afterAll(async () => t?.close());

const me = (token: string) => trpcQuery(t.url, "auth.me", undefined, bearer(token));

async function signed(claims: Record<string, unknown>, opts: { secret?: string; iss?: string; aud?: string; exp?: number | string; nbf?: number | string } = {}) {
  const user = await t.app.deps.db.prisma.user.findUniqueOrThrow({ where: { email: TEST_SUPERADMIN.email } });
  return new SignJWT({ email: user.email, role: "SUPERADMIN", sid: "forged-session", iat_ms: Date.now(), ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(user.id)
    .setIssuer(opts.iss ?? "switchboard")
    .setAudience(opts.aud ?? "switchboard")
    .setIssuedAt()
    .setNotBefore(opts.nbf ?? "0s")
    .setExpirationTime(opts.exp ?? "5m")
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

describe("login", () => {
  it("returns tokens and the user, and sets httpOnly SameSite=Strict cookies", async () => {
    const res = await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN);
    expect(res.status).toBe(200);
    expect(res.body.result.data.user).toMatchObject({ email: TEST_SUPERADMIN.email, role: "SUPERADMIN" });
    expect(res.body.result.data.user.passwordHash).toBeUndefined();
    const cookies = res.headers.getSetCookie();
    expect(cookies.find((c) => c.startsWith("sb_access="))).toMatch(/HttpOnly/i);
    expect(cookies.find((c) => c.startsWith("sb_access="))).toMatch(/SameSite=Strict/i);
    const viaCookie = await trpcQuery(t.url, "auth.me", undefined, { cookie: cookies.map((c) => c.split(";")[0]).join("; ") });
    expect(viaCookie.body.result.data.email).toBe(TEST_SUPERADMIN.email);
  });

  it("answers 401 with one message for a wrong password and for an unknown email", async () => {
    const wrong = await trpcMutation(t.url, "auth.login", { email: TEST_SUPERADMIN.email, password: "nope" });
    const unknown = await trpcMutation(t.url, "auth.login", { email: "nobody@switchboard.test", password: "nope" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
  });

  it("answers 400 with field errors for malformed input", async () => {
    const res = await trpcMutation(t.url, "auth.login", { email: "not-an-email" });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.data.zodError.fieldErrors)).toEqual(expect.arrayContaining(["email", "password"]));
  });

  it("limits failed attempts per account to 10 a minute with 429 and Retry-After", async () => {
    const target = await t.userWithRole("USER");
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await trpcMutation(t.url, "auth.login", { email: target.email, password: `wrong-${i}` })).status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    const limited = await trpcMutation(t.url, "auth.login", { email: target.email, password: "a-long-enough-password" });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("refresh tokens", () => {
  it("rotate, and reusing a rotated token after the grace window revokes the whole session", async () => {
    const first = (await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN)).body.result.data;
    const second = (await trpcMutation(t.url, "auth.refresh", { refreshToken: first.refreshToken })).body.result.data;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect((await me(second.accessToken)).status).toBe(200);
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));

    const reuse = await trpcMutation(t.url, "auth.refresh", { refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    // The thief's replay killed the legitimate chain too: both the newest refresh token and
    // the session's access tokens are dead.
    expect((await trpcMutation(t.url, "auth.refresh", { refreshToken: second.refreshToken })).status).toBe(401);
    expect((await me(second.accessToken)).status).toBe(401);
  });
});

describe("refresh grace window (two tabs)", () => {
  it("two tabs refreshing with the same token at once both get the same new pair and stay signed in", async () => {
    const first = (await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN)).body.result.data;
    const [a, b] = await Promise.all([
      trpcMutation(t.url, "auth.refresh", { refreshToken: first.refreshToken }),
      trpcMutation(t.url, "auth.refresh", { refreshToken: first.refreshToken }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.result.data.refreshToken).toBe(b.body.result.data.refreshToken);
    expect(a.body.result.data.accessToken).toBe(b.body.result.data.accessToken);
    // The session lives on: the new pair works and rotates again.
    expect((await me(a.body.result.data.accessToken)).status).toBe(200);
    const third = await trpcMutation(t.url, "auth.refresh", { refreshToken: a.body.result.data.refreshToken });
    expect(third.status).toBe(200);
  });

  it("a tab that refreshes a moment after the other gets the pair the first one got", async () => {
    const first = (await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN)).body.result.data;
    const a = await trpcMutation(t.url, "auth.refresh", { refreshToken: first.refreshToken });
    const b = await trpcMutation(t.url, "auth.refresh", { refreshToken: first.refreshToken });
    expect(b.status).toBe(200);
    expect(b.body.result.data).toEqual(a.body.result.data);
    expect((await me(b.body.result.data.accessToken)).status).toBe(200);
  });
});

describe("logout", () => {
  it("revokes the access token cluster-wide, at once", async () => {
    const tokens = (await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN)).body.result.data;
    expect((await me(tokens.accessToken)).status).toBe(200);
    expect((await trpcMutation(t.url, "auth.logout", {}, bearer(tokens.accessToken))).status).toBe(200);
    expect((await me(tokens.accessToken)).status).toBe(401);
    expect((await trpcMutation(t.url, "auth.refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
    // Another instance sharing Redis sees the revocation too.
    const other = await startTestApp({ mode: "cluster", env: {}, databaseUrl: t.app.deps.env.DATABASE_URL!, redisKeyPrefix: t.app.deps.env.REDIS_KEY_PREFIX });
    try {
      expect((await trpcQuery(other.url, "auth.me", undefined, bearer(tokens.accessToken))).status).toBe(401);
    } finally {
      await other.close();
    }
  });
});

describe("a password reset while its user signs in", () => {
  it("leaves no session started with the old password: one signing in over and over keeps none", async () => {
    const root = (await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN)).body.result.data.accessToken as string;
    const target = (await trpcMutation(t.url, "users.create", { email: `reset-${Date.now()}@switchboard.test`, password: "the-old-leaked-password", role: "ADMIN" }, bearer(root))).body.result.data;
    // Someone holding the leaked password keeps sign-ins in flight while a SuperAdmin resets it.
    const started: Array<{ accessToken: string; refreshToken: string }> = [];
    let signingIn = true;
    const again = async () => {
      while (signingIn) {
        const res = await trpcMutation(t.url, "auth.login", { email: target.email, password: "the-old-leaked-password" });
        if (res.status === 200) started.push(res.body.result.data);
      }
    };
    const loops = [again(), again(), again()];
    await new Promise((r) => setTimeout(r, 300));
    expect((await trpcMutation(t.url, "users.update", { id: target.id, password: "a-brand-new-password-42" }, bearer(root))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    signingIn = false;
    await Promise.all(loops);
    expect(started.length).toBeGreaterThan(0);
    for (const tokens of started) {
      expect((await me(tokens.accessToken)).status).toBe(401);
      expect((await trpcMutation(t.url, "auth.refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
    }
  });
});

describe("bad tokens", () => {
  const base64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

  const catalogue: Array<[string, () => Promise<string>]> = [
    ["alg none", async () => `${base64url({ alg: "none", typ: "JWT" })}.${(await signed({})).split(".")[1]}.`],
    ["wrong secret", () => signed({}, { secret: "another-secret-that-is-long-enough-0123456789" })],
    ["expired", () => signed({}, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ["not yet valid", () => signed({}, { nbf: Math.floor(Date.now() / 1000) + 3600 })],
    ["wrong issuer", () => signed({}, { iss: "someone-else" })],
    ["wrong audience", () => signed({}, { aud: "someone-else" })],
    [
      "tampered role claim",
      async () => {
        const userToken = (await t.userWithRole("USER")).token;
        const [header, payload, signature] = userToken.split(".");
        const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
        return `${header}.${base64url({ ...claims, role: "SUPERADMIN" })}.${signature}`;
      },
    ],
    [
      "token of a disabled user",
      async () => {
        const victim = await t.userWithRole("ADMIN");
        await t.client(await t.login()).users.update.mutate({ id: victim.id, disabled: true });
        return victim.token;
      },
    ],
    [
      "revoked token",
      async () => {
        const token = await t.login();
        await trpcMutation(t.url, "auth.logout", {}, bearer(token));
        return token;
      },
    ],
    ["truncated", async () => (await t.login()).slice(0, -10)],
    ["garbage", async () => "definitely.not.a-jwt"],
    ["oversized", async () => `${await t.login()}${"A".repeat(10_000)}`],
  ];

  it.each(catalogue)("%s → 401", async (_name, makeToken) => {
    const res = await me(await makeToken());
    expect(res.status).toBe(401);
    expect(res.body.error.data.code).toBe("UNAUTHORIZED");
  });

  it("a valid token still works (the catalogue is not rejecting everything)", async () => {
    expect((await me(await t.login())).status).toBe(200);
  });
});
