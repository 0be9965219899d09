// Browser test: an install reached over plain HTTP by a LAN name (the Docker image runs with
// NODE_ENV=production) must still let the admin sign in and stay signed in. Chromium treats
// only loopback as a secure context, so the API is reached here as http://switchboard.lan.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureAdminBuild, launchBrowser, newContext, signIn, startApi, type ApiServer } from "./support.ts";

const LAN_HOST = "switchboard.lan";

let api: ApiServer;
let browser: Browser;

beforeAll(async () => {
  ensureAdminBuild();
  api = await startApi({ env: { NODE_ENV: "production" } });
  browser = await launchBrowser([`--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`]);
});

afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

describe("sign-in over plain HTTP in production", () => {
  it("keeps the session across a reload: the browser stores the cookies (Secure ones it would drop)", async () => {
    const lanUrl = api.baseUrl.replace("127.0.0.1", LAN_HOST);
    const context = await newContext(browser, lanUrl);
    try {
      const page = await signIn(context, api.email, api.password);
      const cookies = await context.cookies(lanUrl);
      expect(cookies.map((c) => c.name).sort()).toEqual(["sb_access", "sb_refresh"]);
      // A reload asks auth.me with the cookie: still signed in.
      await page.reload();
      await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    } finally {
      await context.close();
    }
  });
});
