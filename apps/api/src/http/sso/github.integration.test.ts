/**
 * GitHub sign-in up to where GitHub itself would answer (it cannot be reached from tests):
 * the redirect carries state and PKCE, and callbacks that fail the state check or come from
 * a browser that started nothing are refused without a session.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ mode: "embedded", env: { GITHUB_CLIENT_ID: "gh-client", GITHUB_CLIENT_SECRET: "gh-secret" } });
});
afterAll(async () => t?.close());

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
