/**
 * The session cookies' Secure flag follows how the browser reached us, not NODE_ENV: a browser
 * drops a Secure cookie set over plain HTTP, so a production install reached by a LAN address
 * over HTTP could not keep anyone signed in; and one behind a TLS proxy must mark them Secure
 * whatever NODE_ENV says, as must one whose PUBLIC_URL is https even when its proxy says nothing.
 * (The browser's side: apps/admin/e2e/plain-http-sign-in.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../test/app.ts";
import { trpcMutation } from "../../test/http.ts";

let production: TestApp;

beforeAll(async () => {
  production = await startTestApp({ mode: "embedded", env: { NODE_ENV: "production", PROVIDER_ORDER: "template" } });
});
afterAll(async () => production?.close());

const sessionCookies = (headers: Headers) => headers.getSetCookie().filter((c) => /^sb_(access|refresh)=/.test(c));
const cookieHeader = (cookies: string[]) => cookies.map((c) => c.split(";")[0]).join("; ");

describe("session cookies' Secure flag", () => {
  it("is absent over plain HTTP, even in production: the browser would drop a Secure cookie there", async () => {
    const login = await trpcMutation(production.url, "auth.login", TEST_SUPERADMIN);
    expect(login.status).toBe(200);
    const cookies = sessionCookies(login.headers);
    expect(cookies).toHaveLength(2);
    for (const cookie of cookies) expect(cookie).not.toMatch(/;\s*Secure/i);
    // The renewed pair alike (the SPA renews through the refresh cookie).
    const refreshed = await trpcMutation(production.url, "auth.refresh", undefined, { cookie: cookieHeader(cookies), origin: production.url });
    expect(refreshed.status).toBe(200);
    for (const cookie of sessionCookies(refreshed.headers)) expect(cookie).not.toMatch(/;\s*Secure/i);
  });

  it("is set when a proxy says the browser came over HTTPS, in any NODE_ENV", async () => {
    const development = await startTestApp({ mode: "embedded", env: { NODE_ENV: "development", PROVIDER_ORDER: "template" } });
    try {
      for (const app of [production, development]) {
        const login = await trpcMutation(app.url, "auth.login", TEST_SUPERADMIN, { "x-forwarded-proto": "https" });
        expect(login.status).toBe(200);
        const cookies = sessionCookies(login.headers);
        expect(cookies).toHaveLength(2);
        for (const cookie of cookies) expect(cookie).toMatch(/;\s*Secure/i);
      }
    } finally {
      await development.close();
    }
  });

  it("is set when PUBLIC_URL is https, though the proxy (TLS passthrough, stunnel) says nothing", async () => {
    const behindTls = await startTestApp({
      mode: "embedded",
      env: { NODE_ENV: "production", PROVIDER_ORDER: "template", PUBLIC_URL: "https://switchboard.example" },
    });
    try {
      const login = await trpcMutation(behindTls.url, "auth.login", TEST_SUPERADMIN);
      expect(login.status).toBe(200);
      const cookies = sessionCookies(login.headers);
      expect(cookies).toHaveLength(2);
      for (const cookie of cookies) expect(cookie).toMatch(/;\s*Secure/i);
      const refreshed = await trpcMutation(behindTls.url, "auth.refresh", undefined, { cookie: cookieHeader(cookies), origin: behindTls.url });
      expect(refreshed.status).toBe(200);
      const renewed = sessionCookies(refreshed.headers);
      expect(renewed).toHaveLength(2);
      for (const cookie of renewed) expect(cookie).toMatch(/;\s*Secure/i);
    } finally {
      await behindTls.close();
    }
  });
});
