// Browser test of single sign-on: the sign-in page shows the configured buttons, and the
// OIDC button takes a person through a real OpenID Connect provider (started here) and back
// into the admin, signed in.
import { createServer, type Server } from "node:http";
import Provider from "oidc-provider";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeLoopbackPort } from "../../api/test/ports.ts";
import { ensureAdminBuild, launchBrowser, newContext, screenshotPath, startApi, type ApiServer } from "./support.ts";

const CLIENT = { id: "switchboard-admin", secret: "an-e2e-client-secret" };

let api: ApiServer;
let browser: Browser;
let context: BrowserContext | undefined;
let idp: Server;

beforeAll(async () => {
  ensureAdminBuild();
  const port = await freeLoopbackPort();
  const issuer = `http://127.0.0.1:${port}`;
  api = await startApi({
    env: {
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: CLIENT.id,
      OIDC_CLIENT_SECRET: CLIENT.secret,
      OIDC_DEFAULT_ROLE: "ADMIN",
      GITHUB_CLIENT_ID: "gh-e2e",
      GITHUB_CLIENT_SECRET: "gh-e2e-secret",
    },
  });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        redirect_uris: [`${api.baseUrl}/auth/oidc/callback`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"] },
    cookies: { keys: ["an-e2e-cookie-key"] },
    async findAccount(_ctx, id) {
      return { accountId: id, claims: async () => ({ sub: id, email: `${id}@sso.example`, email_verified: true }) };
    },
  });
  idp = createServer(provider.callback());
  await new Promise<void>((resolve) => idp.listen(port, "127.0.0.1", resolve));
  browser = await launchBrowser();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await api?.stop();
  await new Promise((resolve) => idp?.close(resolve));
});

describe("single sign-on", () => {
  it("shows the configured buttons and signs in through the OIDC provider", async () => {
    context = await newContext(browser, api.baseUrl);
    const page = await context.newPage();
    await page.goto("/login");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const oidcButton = page.getByRole("link", { name: "Sign in with single sign-on" });
    await oidcButton.waitFor();
    expect(await page.getByRole("link", { name: "Sign in with GitHub" }).getAttribute("href")).toBe("/auth/github");
    await page.getByText(/API online/).waitFor();
    await page.screenshot({ path: await screenshotPath("login-sso.png") });

    await oidcButton.click();
    // The provider's own login and consent pages.
    await page.locator('input[name="login"]').fill("dana");
    await page.locator('input[name="password"]').fill("anything");
    await page.locator('button[type="submit"]').click();
    await page.getByRole("button", { name: "Continue" }).click();

    await page.waitForURL(`${api.baseUrl}/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.getByText("dana@sso.example").first().waitFor();
    const cookies = await context.cookies(api.baseUrl);
    expect(cookies.filter((c) => c.name.startsWith("sb_")).map((c) => [c.name, c.httpOnly, c.sameSite]).sort()).toEqual([
      ["sb_access", true, "Strict"],
      ["sb_refresh", true, "Strict"],
    ]);
  });
});
