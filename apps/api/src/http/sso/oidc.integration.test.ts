/**
 * Single sign-on against a real OpenID Connect provider (`oidc-provider`) started here: the
 * whole redirect flow, driven like a browser (follow redirects, keep cookies, post the
 * provider's login and consent forms). Nothing of openid-client or Switchboard is mocked.
 */
import { createServer, type Server } from "node:http";
import Provider from "oidc-provider";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { freeLoopbackPort } from "../../../test/ports.ts";
import { untilLockWaiters } from "../../../test/database.ts";

const CLIENT = { id: "switchboard", secret: "a-client-secret-for-the-test" };
/** Accounts at the provider: the login typed into its form is the account id. */
const ACCOUNTS: Record<string, { email: string; verified: boolean }> = {
  alice: { email: "Alice@corp.example", verified: true },
  bob: { email: "bob@elsewhere.example", verified: true },
  carol: { email: "carol@corp.example", verified: false },
  existing: { email: "existing@corp.example", verified: true },
  frozen: { email: "frozen@corp.example", verified: true },
  racing: { email: "racing@corp.example", verified: true },
};

let t: TestApp;
let idp: Server;
let issuer: string;

/** A tiny browser: a cookie jar per host and manual redirects, so every hop can be checked. */
class Browser {
  private jar = new Map<string, Map<string, string>>();

  private cookieHeader(url: URL): string {
    return [...(this.jar.get(url.host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private keep(url: URL, res: Response): void {
    const jar = this.jar.get(url.host) ?? new Map<string, string>();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim()));
      if (expired || value === "") jar.delete(name);
      else jar.set(name, value);
    }
    this.jar.set(url.host, jar);
  }

  cookies(base: string): Map<string, string> {
    return this.jar.get(new URL(base).host) ?? new Map();
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ res: Response; url: string; body: string }> {
    let current = new URL(url);
    let method = init.method ?? "GET";
    let body: string | undefined = init.form ? new URLSearchParams(init.form).toString() : undefined;
    for (let hop = 0; hop < 20; hop++) {
      const headers: Record<string, string> = { accept: "text/html" };
      const cookie = this.cookieHeader(current);
      if (cookie) headers["cookie"] = cookie;
      if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
      const res = await fetch(current, { method, headers, body, redirect: "manual" });
      this.keep(current, res);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        current = new URL(location, current);
        method = "GET";
        body = undefined;
        continue;
      }
      return { res, url: current.href, body: await res.text() };
    }
    throw new Error("too many redirects");
  }

  /** Posts the first form of a page (its action, its hidden inputs, plus `fields`). */
  async submit(page: { url: string; body: string }, fields: Record<string, string> = {}) {
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
    if (!action) throw new Error(`no form on ${page.url}: ${page.body.slice(0, 300)}`);
    const hidden = Object.fromEntries([...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    return this.request(new URL(action.replace(/&amp;/g, "&"), page.url).href, { method: "POST", form: { ...hidden, ...fields } });
  }
}

/** Signs in at Switchboard through the provider as `login`; returns the final page and the browser. */
async function signInAs(login: string, start = "/auth/oidc/login") {
  const browser = new Browser();
  const loginPage = await browser.request(`${t.url}${start}`);
  expect(loginPage.url.startsWith(issuer), loginPage.body.slice(0, 200)).toBe(true);
  expect(loginPage.body).toContain('name="login"');
  const consentOrDone = await browser.submit(loginPage, { login, password: "anything" });
  const final = consentOrDone.url.startsWith(issuer) ? await browser.submit(consentOrDone) : consentOrDone;
  return { browser, final };
}

/** Posts the consent form and follows the provider's redirects up to (not into) Switchboard's callback. */
async function callbackUrlOf(browser: Browser, consent: { url: string; body: string }): Promise<URL> {
  const issuerCookies = (extra = "") => [[...browser.cookies(issuer).entries()].map(([k, v]) => `${k}=${v}`).join("; "), extra].filter(Boolean).join("; ");
  const action = /<form[^>]*action="([^"]+)"/.exec(consent.body)![1]!;
  const hidden = Object.fromEntries([...consent.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  const res = await fetch(new URL(action, consent.url), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: issuerCookies() },
    body: new URLSearchParams(hidden).toString(),
  });
  // The provider redirects to its own resume endpoint, then to our callback.
  const resumeAt = new URL(res.headers.get("location")!, consent.url);
  const resumed = await fetch(resumeAt, { redirect: "manual", headers: { cookie: issuerCookies(res.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ")) } });
  const callback = new URL(resumed.headers.get("location")!, resumeAt);
  expect(callback.href.startsWith(`${t.url}/auth/oidc/callback`)).toBe(true);
  return callback;
}

beforeAll(async () => {
  const port = await freeLoopbackPort();
  issuer = `http://127.0.0.1:${port}`;
  t = await startTestApp({
    env: { OIDC_ISSUER: issuer, OIDC_CLIENT_ID: CLIENT.id, OIDC_CLIENT_SECRET: CLIENT.secret, OIDC_ALLOWED_DOMAINS: "corp.example" },
  });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        redirect_uris: [`${t.url}/auth/oidc/callback`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"] },
    cookies: { keys: ["a-cookie-key-for-the-test-provider"] },
    async findAccount(_ctx, id) {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, email: account.email, email_verified: account.verified }) };
    },
  });
  idp = createServer(provider.callback());
  await new Promise<void>((resolve) => idp.listen(port, "127.0.0.1", resolve));
  // An account that already exists with a password: SSO links to it by verified email.
  const root = t.client(await t.login());
  await root.users.create.mutate({ email: "existing@corp.example", password: "a-long-enough-password", role: "ADMIN" });
  const frozen = await root.users.create.mutate({ email: "frozen@corp.example", password: "a-long-enough-password", role: "USER" });
  await root.users.update.mutate({ id: frozen.id, disabled: true });
});
afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => idp?.close(resolve));
});

describe("OIDC sign-in", () => {
  it("auth.methods tells the sign-in page to show the SSO button; /api/info lists it", async () => {
    expect(await t.client().auth.methods.query()).toEqual({ password: true, oidc: true, github: false });
    expect(((await (await fetch(`${t.url}/api/info`)).json()) as { sso: string[] }).sso).toEqual(["oidc"]);
  });

  it("a first sign-in provisions a USER and sets the same session cookies as a password sign-in", async () => {
    const { browser, final } = await signInAs("alice", "/auth/oidc/login?returnTo=/chat");
    expect(final.url).toBe(`${t.url}/chat`);
    const cookies = browser.cookies(t.url);
    expect([...cookies.keys()].sort()).toEqual(["sb_access", "sb_refresh"]);
    const me = await fetch(`${t.url}/auth/verify`, { headers: { cookie: `sb_access=${cookies.get("sb_access")}` } });
    expect(me.status).toBe(200);
    const { user } = (await me.json()) as { user: { id: string; email: string; role: string } };
    expect(user).toMatchObject({ email: "alice@corp.example", role: "USER" });

    // Refresh rotation and revocation work as for any session.
    const refreshed = await t.client().auth.refresh.mutate({ refreshToken: cookies.get("sb_refresh")! });
    expect(refreshed.user.id).toBe(user.id);
    await expect(t.client().auth.refresh.mutate({ refreshToken: cookies.get("sb_refresh")! })).resolves.toBeDefined(); // grace window
    await t.client(refreshed.accessToken).auth.logout.mutate({ refreshToken: refreshed.refreshToken });
    expect((await fetch(`${t.url}/auth/verify`, { headers: { authorization: `Bearer ${refreshed.accessToken}` } })).status).toBe(401);

    // The second sign-in finds the same user through the identity.
    const again = await signInAs("alice");
    const token = again.browser.cookies(t.url).get("sb_access")!;
    expect((await t.client(token).auth.me.query()).id).toBe(user.id);
    expect(await t.app.deps.db.prisma.identity.count({ where: { userId: user.id } })).toBe(1);
  });

  it("a returnTo a Location header cannot carry as sent (non-ASCII, control characters) is sent percent-encoded, not as a 500 after the session was made", async () => {
    const { browser, final } = await signInAs("alice", `/auth/oidc/login?returnTo=${encodeURIComponent("/chat?q=日本\u0001#é")}`);
    expect(final.res.status).not.toBe(500);
    expect(final.url).toBe(`${t.url}/chat?q=%E6%97%A5%E6%9C%AC%01#%C3%A9`);
    expect(browser.cookies(t.url).has("sb_access")).toBe(true);
    // Still a path on this server only, however it is spelled.
    for (const [returnTo, landing] of [["/\\evil.example/x", "/"], ["/\t/evil.example", "/"], ["//evil.example", "/"], ["/%2F%2Fevil.example", "/%2F%2Fevil.example"]] as const) {
      const again = await signInAs("alice", `/auth/oidc/login?returnTo=${encodeURIComponent(returnTo)}`);
      expect(again.final.url, returnTo).toBe(`${t.url}${landing}`);
    }
  });

  it("links to an existing account with the same verified email, keeping its role", async () => {
    const { browser } = await signInAs("existing");
    const me = await t.client(browser.cookies(t.url).get("sb_access")!).auth.me.query();
    expect(me).toMatchObject({ email: "existing@corp.example", role: "ADMIN" });
  });

  it("a disabled account is refused before anything is written: no identity is linked to it", async () => {
    const { browser, final } = await signInAs("frozen");
    expect(final.res.status).toBe(403);
    expect(final.body).toContain("disabled");
    expect(browser.cookies(t.url).has("sb_access")).toBe(false);
    const user = await t.app.deps.db.prisma.user.findUniqueOrThrow({ where: { email: "frozen@corp.example" } });
    expect(await t.app.deps.db.prisma.identity.count({ where: { userId: user.id } })).toBe(0);
  });

  it("an account disabled while the provider answers is refused with its own words, and nothing of the sign-in is written", async () => {
    const prisma = t.app.deps.db.prisma;
    const root = t.client(await t.login());
    const racing = await root.users.create.mutate({ email: "racing@corp.example", password: "a-long-enough-password", role: "USER" });
    /** Signs in while another session disables the account: it holds the row until the sign-in waits on it. */
    const signInWhileDisabled = async () => {
      const holder = new pg.Client({ connectionString: t.app.deps.env.DATABASE_URL! });
      await holder.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(`UPDATE "User" SET "disabled" = true WHERE "id" = $1`, [racing.id]);
        const signingIn = signInAs("racing");
        await untilLockWaiters(holder, 1);
        await holder.query("COMMIT");
        return await signingIn;
      } finally {
        await holder.end();
      }
    };
    const refusedAsChanged = ({ browser, final }: Awaited<ReturnType<typeof signInAs>>) => {
      expect(final.res.status).toBe(401);
      expect(final.body).toContain("Your account changed while signing in; sign in again.");
      expect(final.body).not.toContain("Invalid email or password");
      expect(browser.cookies(t.url).has("sb_access")).toBe(false);
    };

    // A first sign-in: no identity is linked.
    refusedAsChanged(await signInWhileDisabled());
    expect(await prisma.identity.count({ where: { userId: racing.id } })).toBe(0);
    expect(await prisma.session.count({ where: { userId: racing.id } })).toBe(0);

    // A known identity: its lastUsedAt and email stay as they were.
    await root.users.update.mutate({ id: racing.id, disabled: false });
    await signInAs("racing");
    const linked = await prisma.identity.findFirstOrThrow({ where: { userId: racing.id } });
    await prisma.identity.update({ where: { id: linked.id }, data: { email: "as-it-was@corp.example" } });
    refusedAsChanged(await signInWhileDisabled());
    const after = await prisma.identity.findUniqueOrThrow({ where: { id: linked.id } });
    expect(after.lastUsedAt).toEqual(linked.lastUsedAt);
    expect(after.email).toBe("as-it-was@corp.example");
  });

  it("a domain outside OIDC_ALLOWED_DOMAINS gets an error page and no session", async () => {
    const { browser, final } = await signInAs("bob");
    expect(final.res.status).toBe(403);
    expect(final.res.headers.get("content-type")).toMatch(/text\/html/);
    expect(final.body).toContain("Sign-in failed");
    expect(final.body).toContain("corp.example");
    expect(browser.cookies(t.url).has("sb_access")).toBe(false);
    expect(await t.app.deps.db.prisma.user.count({ where: { email: "bob@elsewhere.example" } })).toBe(0);
  });

  it("an unverified email gets an error page and no session", async () => {
    const { browser, final } = await signInAs("carol");
    expect(final.res.status).toBe(403);
    expect(browser.cookies(t.url).has("sb_access")).toBe(false);
  });

  it("a callback whose state does not match is refused with an error page", async () => {
    const browser = new Browser();
    const loginPage = await browser.request(`${t.url}/auth/oidc/login`);
    const consent = await browser.submit(loginPage, { login: "alice", password: "x" });
    // Stop before the provider's redirect back to Switchboard, and tamper with it.
    const location = await callbackUrlOf(browser, consent);
    location.searchParams.set("state", "forged-state");
    const callback = await fetch(location, { redirect: "manual", headers: { accept: "text/html", cookie: `sb_sso=${browser.cookies(t.url).get("sb_sso")}` } });
    expect(callback.status).toBe(400);
    expect(await callback.text()).toContain("state check failed");
    expect(callback.headers.getSetCookie().some((c) => c.startsWith("sb_access="))).toBe(false);
    // Nor does it end the sign-in under way: the flow cookie is kept, and the provider's own
    // answer still signs in.
    expect(callback.headers.getSetCookie().some((c) => c.startsWith("sb_sso="))).toBe(false);
  });

  it("a forged or stale callback opened in the same browser leaves the sign-in under way to finish", async () => {
    const browser = new Browser();
    const loginPage = await browser.request(`${t.url}/auth/oidc/login`);
    const flowCookie = `sb_sso=${browser.cookies(t.url).get("sb_sso")}`;
    const consent = await browser.submit(loginPage, { login: "alice", password: "x" });
    const callback = await callbackUrlOf(browser, consent);
    for (const forged of ["?code=abc&state=forged", "?code=abc", "?error=access_denied&error_description=forged", "?error=access_denied&state=forged"]) {
      const res = await fetch(`${t.url}/auth/oidc/callback${forged}`, { redirect: "manual", headers: { accept: "text/html", cookie: flowCookie } });
      expect(res.status, forged).toBe(400);
      expect(await res.text(), forged).toContain("state check failed");
    }
    const real = await fetch(callback, { redirect: "manual", headers: { accept: "text/html", cookie: flowCookie } });
    expect(real.status).toBe(302);
    expect(real.headers.getSetCookie().some((c) => c.startsWith("sb_access="))).toBe(true);
  });

  it("a callback from a browser that did not start the sign-in (no flow cookie) is refused", async () => {
    const res = await fetch(`${t.url}/auth/oidc/callback?code=abc&state=def`, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("not started in this browser");
    expect(res.headers.getSetCookie().some((c) => c.startsWith("sb_access="))).toBe(false);
  });

  it("a replayed callback (the flow was used) is refused", async () => {
    const browser = new Browser();
    const loginPage = await browser.request(`${t.url}/auth/oidc/login`);
    const flowCookie = browser.cookies(t.url).get("sb_sso")!;
    const consent = await browser.submit(loginPage, { login: "alice", password: "x" });
    const done = await browser.submit(consent);
    expect(done.url).toBe(`${t.url}/`);
    const replay = await fetch(`${t.url}/auth/oidc/callback?code=abc&state=def`, { redirect: "manual", headers: { cookie: `sb_sso=${flowCookie}` } });
    expect(replay.status).toBe(400);
  });

  it("two callbacks at once with one flow cookie: exactly one signs in, the other gets the replay page", async () => {
    const browser = new Browser();
    const loginPage = await browser.request(`${t.url}/auth/oidc/login`);
    const flowCookie = browser.cookies(t.url).get("sb_sso")!;
    const consent = await browser.submit(loginPage, { login: "alice", password: "x" });
    const callback = await callbackUrlOf(browser, consent);
    const both = await Promise.all(
      [0, 1].map(async () => {
        const res = await fetch(callback, { redirect: "manual", headers: { accept: "text/html", cookie: `sb_sso=${flowCookie}` } });
        return { status: res.status, body: await res.text(), signedIn: res.headers.getSetCookie().some((c) => c.startsWith("sb_access=")) };
      }),
    );
    const [winner, loser] = both[0]!.status === 302 ? both : [both[1]!, both[0]!];
    expect(winner).toMatchObject({ status: 302, signedIn: true });
    // Refused before the provider was asked: the page of a replayed flow, not a failed code exchange.
    expect(loser).toMatchObject({ status: 400, signedIn: false });
    expect(loser!.body).toContain("not started in this browser");
  });

  it("the provider refusing (error=access_denied, with the flow's state) gives an error page and ends the flow", async () => {
    const login = await fetch(`${t.url}/auth/oidc/login`, { redirect: "manual" });
    const state = new URL(login.headers.get("location")!).searchParams.get("state")!;
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith("sb_sso="))!.split(";")[0]!;
    const res = await fetch(`${t.url}/auth/oidc/callback?error=access_denied&error_description=nope&state=${state}`, { redirect: "manual", headers: { cookie } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("nope");
    const again = await fetch(`${t.url}/auth/oidc/callback?error=access_denied&state=${state}`, { redirect: "manual", headers: { cookie } });
    expect(await again.text()).toContain("not started in this browser");
  });
});
