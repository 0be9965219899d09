/**
 * GitHub sign-in: the redirect carries state and PKCE, and callbacks that fail the state check
 * or come from a browser that started nothing are refused without a session. GitHub itself
 * cannot be reached from tests; where a sign-in must go through, a second instance talks to a
 * local stand-in answering as GitHub does.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";

const GITHUB_ANSWERS: Record<string, unknown> = {
  "/login/oauth/access_token": { access_token: "gho_token", token_type: "bearer", scope: "read:user,user:email" },
  "/api/user": { id: 7, login: "octo" },
  "/api/user/emails": [{ email: "octo@corp.example", primary: true, verified: true }],
};

const env = { GITHUB_CLIENT_ID: "gh-client", GITHUB_CLIENT_SECRET: "gh-secret" };
let t: TestApp;
/** Signs in through the stand-in. */
let standIn: TestApp;
let stand: Server;
beforeAll(async () => {
  t = await startTestApp({ mode: "embedded", env });
  stand = createServer((req, res) => {
    const answer = GITHUB_ANSWERS[new URL(req.url!, "http://x").pathname] ?? {};
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => stand.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(stand.address() as AddressInfo).port}`;
  standIn = await startTestApp({
    mode: "embedded",
    env,
    appOptions: { ssoUpstream: { github: { authorize: `${base}/login/oauth/authorize`, token: `${base}/login/oauth/access_token`, api: `${base}/api` } } },
  });
});
afterAll(async () => {
  await t?.close();
  await standIn?.close();
  await new Promise((resolve) => stand?.close(resolve));
});

describe("GitHub sign-in", () => {
  it("the sign-in page is told to show the GitHub button", async () => {
    expect(await t.client().auth.methods.query()).toEqual({ password: true, oidc: false, github: true });
  });

  it("GET /auth/github redirects to GitHub with state and an S256 PKCE challenge, and a flow cookie", async () => {
    const res = await fetch(`${t.url}/auth/github?returnTo=/users`, { redirect: "manual" });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin + location.pathname).toBe("https://github.com/login/oauth/authorize");
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      client_id: "gh-client",
      redirect_uri: `${t.url}/auth/github/callback`,
      code_challenge_method: "S256",
      state: expect.stringMatching(/^[\w-]{20,}$/),
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
    });
    const flow = res.headers.getSetCookie().find((c) => c.startsWith("sb_sso="))!;
    expect(flow).toMatch(/HttpOnly/i);
    expect(flow).toMatch(/SameSite=Lax/i);

    const forged = await fetch(`${t.url}/auth/github/callback?code=abc&state=forged`, { redirect: "manual", headers: { cookie: flow.split(";")[0]! } });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain("state check failed");
    expect(forged.headers.getSetCookie().some((c) => c.startsWith("sb_access="))).toBe(false);
  });

  it("a callback that does not answer the flow (forged state, none, an error without the state) leaves the sign-in under way to finish", async () => {
    const start = await fetch(`${standIn.url}/auth/github`, { redirect: "manual" });
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith("sb_sso="))!.split(";")[0]!;
    for (const forged of ["?code=abc&state=forged", "?code=abc", "?error=access_denied"]) {
      const res = await fetch(`${standIn.url}/auth/github/callback${forged}`, { redirect: "manual", headers: { cookie } });
      expect(res.status, forged).toBe(400);
      expect(await res.text(), forged).toContain("state check failed");
      expect(res.headers.getSetCookie().some((c) => c.startsWith("sb_sso=")), forged).toBe(false);
    }
    const real = await fetch(`${standIn.url}/auth/github/callback?code=abc&state=${state}`, { redirect: "manual", headers: { cookie } });
    expect(real.status).toBe(302);
    expect(real.headers.getSetCookie().some((c) => c.startsWith("sb_access="))).toBe(true);
    // Taken: the same answer again finds nothing.
    const replay = await fetch(`${standIn.url}/auth/github/callback?code=abc&state=${state}`, { redirect: "manual", headers: { cookie } });
    expect(await replay.text()).toContain("not started in this browser");
  });

  it("a callback nobody started is refused with an error page", async () => {
    const res = await fetch(`${t.url}/auth/github/callback?code=abc&state=def`, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
  });

  it("OIDC routes are absent when OIDC is not configured (a JSON 404)", async () => {
    const res = await fetch(`${t.url}/auth/oidc/login`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/json/);
  });
});
