// Browser test of the emergency stop against a real API server: freeze from the Emergency
// page → banner on every page → unfreeze → banner gone; a freeze made elsewhere (REST, as
// an ops script would) reaches an open page live over emergency.watch; roles see what they may.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureAdminBuild, launchBrowser, newContext, screenshotPath, signIn, startApi, type ApiServer } from "./support.ts";

let api: ApiServer;
let browser: Browser;
let token: string;
const contexts: BrowserContext[] = [];

async function call(path: string, body: unknown, auth = token): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${api.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  ensureAdminBuild();
  api = await startApi();
  browser = await launchBrowser();
  const login = await call("/trpc/auth.login", { email: api.email, password: api.password }, "");
  if (login.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(login.json)}`);
  token = login.json.result.data.accessToken;
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

async function signedInPage(email: string, password: string, errors: string[]): Promise<Page> {
  const context = await newContext(browser, api.baseUrl);
  contexts.push(context);
  return signIn(context, email, password, errors);
}

describe("emergency stop in the admin", () => {
  it("freeze → banner on every page → unfreeze → banner gone, with the audit trail", async () => {
    const errors: string[] = [];
    const page = await signedInPage(api.email, api.password, errors);
    const nav = page.getByRole("navigation", { name: "Main" });
    const banner = page.getByTestId("emergency-banner");

    await nav.getByRole("link", { name: "Emergency" }).click();
    await page.getByRole("heading", { name: "Emergency stop", level: 1 }).waitFor();
    await page.getByTestId("emergency-state-label").getByText("Serving normally").waitFor();
    expect(await banner.count()).toBe(0);

    // The freeze needs a reason and the typed confirmation.
    const form = page.getByRole("form", { name: "Freeze", exact: true });
    const submit = form.getByRole("button", { name: "Freeze everything" });
    await form.getByLabel("Reason").fill("e2e: the beta model is leaking prompts");
    expect(await submit.isDisabled()).toBe(true);
    await form.getByLabel("Type FREEZE to confirm").fill("freeze");
    expect(await submit.isDisabled()).toBe(true);
    await form.getByLabel("Type FREEZE to confirm").fill("FREEZE");
    await submit.click();

    await banner.waitFor();
    expect(await banner.textContent()).toContain("Switchboard is frozen");
    expect(await page.getByTestId("emergency-banner-reason").textContent()).toBe("e2e: the beta model is leaking prompts");
    expect(await banner.textContent()).toContain(`by ${api.email}`);
    await page.getByTestId("emergency-notice").getByText("Acknowledged by 1 of 1 live instance.").waitFor();
    await page.getByTestId("emergency-state-label").getByText("Frozen — Switchboard is frozen").waitFor();
    // A global freeze can only be lifted: no second freeze form.
    expect(await page.getByRole("form", { name: "Freeze", exact: true }).count()).toBe(0);

    // The banner is on every page.
    await nav.getByRole("link", { name: "Dashboard" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await banner.waitFor();
    await nav.getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();
    await banner.waitFor();
    await banner.getByRole("link", { name: "Details" }).click();
    await page.getByRole("heading", { name: "Emergency stop", level: 1 }).waitFor();

    await page.getByRole("form", { name: "Unfreeze" }).getByLabel("Reason (optional)").fill("key rotated");
    await page.getByRole("form", { name: "Unfreeze" }).getByRole("button", { name: "Unfreeze" }).click();
    await banner.waitFor({ state: "detached" });
    await page.getByTestId("emergency-state-label").getByText("Serving normally").waitFor();

    // The audit trail shows both, newest first.
    const rows = page.getByRole("table", { name: "Audit trail" }).getByRole("row");
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.nth(1).textContent()).toContain("key rotated");
    expect(await rows.nth(2).textContent()).toContain("e2e: the beta model is leaking prompts");

    // A narrower freeze for the screenshot: the banner, the live state and a full audit trail.
    await form.getByLabel("Reason").fill("Chat paused while the beta provider is investigated");
    await form.getByLabel("Scope").selectOption("chat");
    await form.getByLabel("Lift automatically").selectOption({ label: "1 hour" });
    await form.getByLabel("Type FREEZE to confirm").fill("FREEZE");
    await form.getByRole("button", { name: "Freeze: Chat and /v1" }).click();
    await banner.getByText("Chat is frozen", { exact: false }).waitFor();
    await expect.poll(() => rows.count()).toBe(4);
    await page.screenshot({ path: await screenshotPath("emergency.png"), fullPage: true });

    await page.getByRole("form", { name: "Unfreeze" }).getByRole("button", { name: "Unfreeze" }).click();
    await banner.waitFor({ state: "detached" });
    expect(errors).toEqual([]);
  });

  it("a freeze made elsewhere reaches an open page live, and only SuperAdmins get the controls", async () => {
    expect((await call("/api/admin/emergency/unfreeze", {})).status).toBe(200); // whatever the test before left
    const created = await call("/trpc/users.create", { email: "ops.admin@e2e.test", password: "an admin password 123", role: "ADMIN" });
    expect(created.status).toBe(200);
    const errors: string[] = [];
    const page = await signedInPage("ops.admin@e2e.test", "an admin password 123", errors);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Emergency" }).click();
    await page.getByTestId("emergency-state-label").getByText("Serving normally").waitFor();
    await page.getByText("Only SuperAdmins can freeze or unfreeze.").waitFor();
    expect(await page.getByRole("form", { name: "Freeze", exact: true }).count()).toBe(0);
    await page.getByRole("table", { name: "Audit trail" }).waitFor();

    // As a curl script would: the REST alias. The open page learns it over SSE, no reload.
    const frozen = await call("/api/admin/emergency/freeze", { reason: "frozen from a terminal" });
    expect(frozen.status).toBe(200);
    const banner = page.getByTestId("emergency-banner");
    await banner.getByText("frozen from a terminal").waitFor();
    expect(await page.getByRole("form", { name: "Unfreeze" }).count()).toBe(0);
    // During a global freeze an ADMIN keeps the audit trail, with the freeze in it.
    await page.reload();
    await page.getByRole("table", { name: "Audit trail" }).getByText("frozen from a terminal").waitFor();
    // ...and the dashboard keeps its live figures.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
    await page.locator(".live-state", { hasText: "Live" }).waitFor();
    await page.getByTestId("emergency-banner").waitFor();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Emergency" }).click();

    expect((await call("/api/admin/emergency/unfreeze", {})).status).toBe(200);
    await banner.waitFor({ state: "detached" });
    await page.getByTestId("emergency-state-label").getByText("Serving normally").waitFor();
    expect(errors).toEqual([]);
  });
});
