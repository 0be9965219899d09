// Browser test of the admin shell against a real API server: sign-in, layout, Users page
// (create, role, disable, budget, reset password, delete).
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiToken, callProcedure, ensureAdminBuild, launchBrowser, newContext, overflowingTables, priceAutoModel, screenshotPath, startApi, type ApiServer } from "./support.ts";

let api: ApiServer;
let browser: Browser;
let context: BrowserContext | undefined;
let pageErrors: string[] = [];

beforeAll(async () => {
  ensureAdminBuild();
  api = await startApi();
  browser = await launchBrowser();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

async function openPage(): Promise<Page> {
  context = await newContext(browser, api.baseUrl);
  const page = await context.newPage();
  pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  return page;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

describe("admin SPA", () => {
  it("signs in, shows the layout and manages users", async () => {
    const page = await openPage();

    // Signed out: any page sends the visitor to the login page.
    await page.goto("/");
    await page.waitForURL("**/login");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByText(/API online/).waitFor();
    await page.getByLabel("Email").fill(api.email);
    await page.screenshot({ path: await screenshotPath("login.png") });

    await signIn(page, api.email, api.password);
    await page.waitForURL(`${api.baseUrl}/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();

    const nav = page.getByRole("navigation", { name: "Main" });
    for (const item of ["Dashboard", "Chat", "Consensus", "Emergency", "Users"]) {
      expect(await nav.getByRole("link", { name: item, exact: true }).isVisible(), `nav item ${item}`).toBe(true);
    }
    expect(await page.getByTestId("current-user-email").textContent()).toBe(api.email);
    expect(await page.getByTestId("current-user-role").textContent()).toBe("SuperAdmin");
    expect(await page.getByRole("button", { name: "Sign out" }).isVisible()).toBe(true);

    await nav.getByRole("link", { name: "Users" }).click();
    await page.waitForURL("**/users");
    await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();
    await page.getByRole("row", { name: new RegExp(escapeRegExp(api.email)) }).waitFor();

    const form = page.getByRole("form", { name: "Create user" });
    const notice = page.getByTestId("users-notice");

    // The server's validation message shows next to the field.
    await form.getByLabel("Email").fill("dana.ops@e2e.test");
    await form.getByLabel("Password").fill("short");
    await form.getByRole("button", { name: "Create user" }).click();
    await form.getByText("Password must be at least 12 characters").waitFor();

    await form.getByLabel("Password").fill("correct horse battery staple");
    await form.getByLabel("Role").selectOption("USER");
    await form.getByRole("button", { name: "Create user" }).click();
    await notice.getByText("Created dana.ops@e2e.test (User).").waitFor();
    const row = page.getByRole("row", { name: /dana\.ops@e2e\.test/ });
    await row.waitFor();
    expect(await row.getByText("Active").isVisible()).toBe(true);
    expect(await form.getByLabel("Email").inputValue()).toBe("");

    // A duplicate email is refused with the server's message.
    await form.getByLabel("Email").fill("dana.ops@e2e.test");
    await form.getByLabel("Password").fill("another long password");
    await form.getByRole("button", { name: "Create user" }).click();
    await page.getByRole("region", { name: "Add a user" }).getByRole("alert").getByText(/already exists/).waitFor();

    // Change the role; it sticks across a reload.
    const roleSelect = page.getByLabel("Role for dana.ops@e2e.test");
    await roleSelect.selectOption("ADMIN");
    await notice.getByText("dana.ops@e2e.test is now Admin.", { exact: false }).waitFor();
    expect(await roleSelect.inputValue()).toBe("ADMIN");

    // A budget: dana spends a little through the gateway, then gets a cap; the row shows the
    // period's spend against it. The server's validation message shows under the field.
    const adminToken = await apiToken(api, api.email, api.password);
    await priceAutoModel(api, adminToken);
    const danaToken = await apiToken(api, "dana.ops@e2e.test", "correct horse battery staple");
    const chat = await fetch(`${api.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${danaToken}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "what does this cost?" }] }),
    });
    expect(chat.status).toBe(200);
    // The request log is written in batches: wait until the call is in it.
    const danaSpend = async () => (await callProcedure<{ items: Array<{ spendUsd: number }> }>(api, "users.list", { search: "dana" }, adminToken)).items[0]!.spendUsd;
    await expect.poll(danaSpend, { timeout: 10_000 }).toBeGreaterThan(0);
    const budgetCell = page.getByTestId("budget-dana.ops@e2e.test");
    await budgetCell.getByText("No budget").waitFor();
    await budgetCell.getByText(/^\$[\d.]+ this month$/).waitFor();
    await page.getByRole("button", { name: "Edit budget for dana.ops@e2e.test" }).click();
    const budgetDialog = page.getByRole("dialog", { name: "Edit budget" });
    const amount = budgetDialog.getByLabel("Budget (USD)");
    expect(await amount.inputValue()).toBe("");
    await amount.fill("-5");
    await budgetDialog.getByRole("button", { name: "Save budget" }).click();
    await budgetDialog.getByText("budgetUsd must not be negative").waitFor();
    expect(await amount.getAttribute("aria-invalid")).toBe("true");
    await amount.fill("twenty");
    await budgetDialog.getByRole("button", { name: "Save budget" }).click();
    await budgetDialog.getByText("Enter an amount in US dollars, like 25 or 12.50").waitFor();
    await amount.fill("25");
    await budgetDialog.getByLabel("Per").selectOption("day");
    await budgetDialog.getByRole("button", { name: "Save budget" }).click();
    await notice.getByText("Budget of dana.ops@e2e.test set to $25.00 per day.").waitFor();
    await budgetDialog.waitFor({ state: "detached" });
    await budgetCell.getByText("per day").waitFor();
    // Today's spend (non-zero: the call above is priced) against the cap.
    await budgetCell.getByText(/^\$(?!0\.00 )[\d.]+ \/ \$25\.00$/).waitFor();

    // Cleared: an empty amount means no budget.
    await page.getByRole("button", { name: "Edit budget for dana.ops@e2e.test" }).click();
    expect(await amount.inputValue()).toBe("25");
    expect(await budgetDialog.getByLabel("Per").inputValue()).toBe("day");
    await amount.fill("");
    await budgetDialog.getByRole("button", { name: "Save budget" }).click();
    await notice.getByText("dana.ops@e2e.test has no budget now.").waitFor();
    await budgetCell.getByText("No budget").waitFor();
    await budgetCell.getByText(/^\$(?!0\.00 )[\d.]+ today$/).waitFor();
    expect((await callProcedure<{ items: Array<{ budgetUsd: number | null }> }>(api, "users.list", { search: "dana" }, adminToken)).items[0]!.budgetUsd).toBeNull();

    // And set again per month, as the screenshot shows it.
    await page.getByRole("button", { name: "Edit budget for dana.ops@e2e.test" }).click();
    await amount.fill("40");
    await budgetDialog.getByLabel("Per").selectOption("month");
    await budgetDialog.getByRole("button", { name: "Save budget" }).click();
    await notice.getByText("Budget of dana.ops@e2e.test set to $40.00 per month.").waitFor();
    await budgetCell.getByText(/^\$(?!0\.00 )[\d.]+ \/ \$40\.00$/).waitFor();

    // A second account, then disable it, so the table shows both states.
    await form.getByLabel("Email").fill("sam.lee@e2e.test");
    await form.getByLabel("Password").fill("a perfectly fine password");
    await form.getByRole("button", { name: "Create user" }).click();
    await notice.getByText("Created sam.lee@e2e.test (User).").waitFor();
    await page.getByRole("button", { name: "Disable sam.lee@e2e.test" }).click();
    await page.getByRole("button", { name: "Enable sam.lee@e2e.test" }).waitFor();
    expect(await page.getByRole("row", { name: /sam\.lee@e2e\.test/ }).getByText("Disabled").isVisible()).toBe(true);

    // Reset a password through the dialog.
    await page.getByRole("button", { name: "Reset password for sam.lee@e2e.test" }).click();
    const dialog = page.getByRole("dialog", { name: "Reset password" });
    await dialog.getByLabel("New password").fill("a brand new password 42");
    await dialog.getByRole("button", { name: "Set password" }).click();
    await notice.getByText("Password reset for sam.lee@e2e.test.", { exact: false }).waitFor();
    await dialog.waitFor({ state: "detached" });

    // A reset leaves API keys working unless the admin ticks the box; ticked, it revokes them.
    const danaKey = await callProcedure<{ id: string }>(api, "keys.create", { name: "made with the old password" }, danaToken);
    await page.getByRole("button", { name: "Reset password for dana.ops@e2e.test" }).click();
    const revokeBox = dialog.getByLabel(/Also revoke their API keys/);
    expect(await revokeBox.isChecked()).toBe(false);
    await dialog.getByLabel("New password").fill("correct horse battery staple 2");
    await revokeBox.check();
    await dialog.getByRole("button", { name: "Set password" }).click();
    await notice.getByText("Password reset for dana.ops@e2e.test. Their sessions were signed out. Their API keys were revoked.").waitFor();
    await dialog.waitFor({ state: "detached" });
    const danaId = (await callProcedure<{ items: Array<{ id: string }> }>(api, "users.list", { search: "dana" }, adminToken)).items[0]!.id;
    const danaKeys = await callProcedure<{ items: Array<{ id: string; revokedAt: string | null }> }>(api, "keys.list", { userId: danaId, includeRevoked: true }, adminToken);
    expect(danaKeys.items.find((k) => k.id === danaKey.id)?.revokedAt).not.toBeNull();

    // The session cookie survives a reload, and so do the changes.
    await page.reload();
    await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();
    await expect.poll(() => page.getByLabel("Role for dana.ops@e2e.test").inputValue()).toBe("ADMIN");
    await page.getByRole("button", { name: "Enable sam.lee@e2e.test" }).waitFor();
    await page.getByTestId("budget-dana.ops@e2e.test").getByText(/ \/ \$40\.00$/).waitFor();

    // Nothing in the table is cut off or scrolled out of sight at a common laptop width.
    await page.setViewportSize({ width: 1280, height: 820 });
    expect(await overflowingTables(page)).toEqual([]);
    await page.setViewportSize({ width: 1360, height: 820 });

    // The self row cannot demote or disable itself.
    expect(await page.getByLabel(`Role for ${api.email}`).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: `Delete ${api.email}` }).isDisabled()).toBe(true);

    // Delete asks first; Cancel keeps the user, confirming removes them for good.
    await page.getByRole("button", { name: "Delete sam.lee@e2e.test" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete user" });
    await confirm.getByText(/cannot be undone/).waitFor();
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    await page.getByRole("row", { name: /sam\.lee@e2e\.test/ }).waitFor();
    await page.getByRole("button", { name: "Delete sam.lee@e2e.test" }).click();
    await confirm.getByRole("button", { name: "Delete user" }).click();
    await notice.getByText("Deleted sam.lee@e2e.test.", { exact: false }).waitFor();
    await page.getByRole("row", { name: /sam\.lee@e2e\.test/ }).waitFor({ state: "detached" });
    await page.reload();
    await page.getByRole("row", { name: /dana\.ops@e2e\.test/ }).waitFor();
    expect(await page.getByRole("row", { name: /sam\.lee@e2e\.test/ }).count()).toBe(0);

    await page.screenshot({ path: await screenshotPath("users.png"), fullPage: true });
    expect(pageErrors).toEqual([]);

    // Sign out ends the session: protected pages go back to the login page.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/login");
    await page.goto("/users");
    await page.waitForURL("**/login?next=%2Fusers");
  });

  it("shows an error for a wrong password", async () => {
    const page = await openPage();
    await page.goto("/login");
    await signIn(page, api.email, "definitely-not-the-password");
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toBe("Invalid email or password.");
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await page.getByLabel("Password").inputValue()).toBe("");
    expect(pageErrors).toEqual([]);
  });

  it("renews an expired access token with the refresh cookie, and sends the user to login when that fails", async () => {
    const page = await openPage();
    const refreshes: number[] = [];
    page.on("response", (r) => {
      if (r.url().includes("/trpc/auth.refresh")) refreshes.push(r.status());
    });
    await page.goto("/login?next=%2Fusers");
    await signIn(page, api.email, api.password);
    await page.waitForURL("**/users");
    await page.getByRole("row", { name: /dana\.ops@e2e\.test/ }).waitFor();
    // Loading the signed-out app already tried (and failed) one refresh; count from here.
    expect(refreshes).toEqual([401]);
    refreshes.length = 0;

    // The access cookie is gone (as when it expires): the next call renews the session once.
    await context!.clearCookies({ name: "sb_access" });
    await page.getByLabel("Search users").fill("dana");
    await expect.poll(() => page.getByRole("row").count()).toBe(2); // header + dana
    expect(refreshes).toEqual([200]);
    expect(new URL(page.url()).pathname).toBe("/users");

    // Two tabs renewing at the same moment must not present the same (rotating) refresh
    // token twice: the server would take that as theft and end the session.
    const second = await context!.newPage();
    second.on("response", (r) => {
      if (r.url().includes("/trpc/auth.refresh")) refreshes.push(r.status());
    });
    // Hold each refresh briefly so the two tabs' attempts overlap for certain.
    await context!.route("**/trpc/auth.refresh*", async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await route.continue();
    });
    await context!.clearCookies({ name: "sb_access" });
    await Promise.all([page.reload(), second.goto("/users")]);
    for (const tab of [page, second]) {
      await tab.getByRole("row", { name: new RegExp(escapeRegExp(api.email)) }).waitFor();
      expect(new URL(tab.url()).pathname).toBe("/users");
    }
    // Each tab renews once, or only one does when the other starts after that renewal
    // landed (a busy machine can delay a tab past the hold): either way none is refused.
    const renewals = refreshes.slice(1);
    expect(renewals.length).toBeGreaterThanOrEqual(1);
    expect(renewals.length).toBeLessThanOrEqual(2);
    expect(renewals.every((status) => status === 200)).toBe(true);
    await context!.unrouteAll();
    await second.close();
    refreshes.length = 0;

    // No cookies at all: the refresh fails and the login page remembers where we were.
    await context!.clearCookies();
    await page.getByLabel("Search users").fill("sam");
    await page.waitForURL("**/login?next=%2Fusers");
    await expect.poll(() => refreshes).toEqual([401]);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(pageErrors).toEqual([]);
  });

  it("reads the list again from the top when the user its next page starts after was deleted elsewhere", async () => {
    const token = await apiToken(api, api.email, api.password);
    // More users than a page holds (50).
    const { items: existing } = await callProcedure<{ items: unknown[] }>(api, "users.list", { limit: 100 }, token);
    // A few at a time: the server hashes two passwords at once and lets a queue of 32 wait.
    const emails = Array.from({ length: Math.max(0, 53 - existing.length) }, (_, i) => `paged-${i}@e2e.test`);
    for (let i = 0; i < emails.length; i += 16) {
      await Promise.all(emails.slice(i, i + 16).map((email) => callProcedure(api, "users.create", { email, password: "correct horse battery staple", role: "USER" }, token)));
    }
    const page = await openPage();
    await page.goto("/login?next=%2Fusers");
    await signIn(page, api.email, api.password);
    await page.waitForURL("**/users");
    const loadMore = page.getByRole("button", { name: "Load more" });
    await loadMore.waitFor();
    const rows = page.getByRole("row").filter({ has: page.getByRole("cell") });
    expect(await rows.count()).toBe(50);

    // Another tab deletes the last user shown: the next page's cursor names a row that is gone.
    const first = await callProcedure<{ items: Array<{ id: string; email: string }> }>(api, "users.list", { limit: 50 }, token);
    const gone = first.items.at(-1)!;
    await callProcedure(api, "users.delete", { id: gone.id }, token);
    const total = (await callProcedure<{ items: unknown[] }>(api, "users.list", { limit: 100 }, token)).items.length;

    // No error and no silent end: the list is read again from the top, then goes on.
    await loadMore.click();
    await page.getByRole("row", { name: new RegExp(escapeRegExp(gone.email)) }).waitFor({ state: "detached" });
    expect(await rows.count()).toBe(50);
    await loadMore.click();
    await expect.poll(() => rows.count()).toBe(total);
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  // Last on purpose: it trips the per-IP failed-login limit of this server for a minute.
  it("tells the user how long to wait after too many failed attempts", async () => {
    const page = await openPage();
    await page.goto("/login");
    const alert = page.getByTestId("login-error");
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 429; attempt++) {
      const response = page.waitForResponse((r) => r.url().includes("/trpc/auth.login"));
      await signIn(page, "nobody@e2e.test", `wrong-password-${attempt}`);
      status = (await response).status();
      await alert.waitFor();
    }
    expect(status).toBe(429);
    expect(await alert.textContent()).toMatch(/^Too many failed sign-in attempts\. Try again in \d+ s\.$/);
    expect(await page.getByRole("button", { name: "Sign in" }).isDisabled()).toBe(true);
  });
});
