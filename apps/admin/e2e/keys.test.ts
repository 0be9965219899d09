// Browser test of the API keys, Logs and Spend pages against a real API server: create a
// key (secret shown once), use it from a program, find the calls in the log and the spend,
// filter what the response cache answered and download it as CSV, purge cached answers and
// find the purges on record, revoke it; the layout works at 390 px
// and no table clips at 1280 px.
import { readFile } from "node:fs/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiToken, ensureAdminBuild, launchBrowser, newContext, overflowingTables, priceAutoModel, screenshotPath, signIn, startApi, type ApiServer } from "./support.ts";

let api: ApiServer;
let browser: Browser;
let context: BrowserContext | undefined;
const errors: string[] = [];

beforeAll(async () => {
  ensureAdminBuild();
  api = await startApi();
  browser = await launchBrowser();
  await priceAutoModel(api, await apiToken(api, api.email, api.password));
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

const chatWith = (key: string, content: string, tags?: string, headers: Record<string, string> = {}) =>
  fetch(`${api.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(tags ? { "x-switchboard-tags": tags } : {}), ...headers },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content }] }),
  });

async function fullPageShot(page: Page, name: string): Promise<void> {
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 1360, height: Math.min(2000, Math.max(820, height)) });
  await page.screenshot({ path: await screenshotPath(name) });
  await page.setViewportSize({ width: 1360, height: 820 });
}

describe("API keys, Logs and Spend pages", () => {
  it("creates a key shown once, logs and prices its calls, and revokes it", async () => {
    context = await newContext(browser, api.baseUrl);
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    const page = await signIn(context, api.email, api.password, errors);

    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.getByLabel("Name").fill("billing-service");
    await page.getByLabel("Requests / min").fill("600");
    await page.getByLabel("Budget (USD)").fill("25");
    await page.getByLabel("Tags").fill("app:billing, env=prod");
    // A SuperAdmin is offered write:config (configuration as code), never ticked by default.
    expect(await page.getByRole("checkbox", { name: "write:config" }).isChecked()).toBe(false);
    await page.getByRole("button", { name: "Create key" }).click();
    const dialog = page.getByTestId("key-created-dialog");
    await dialog.waitFor();
    const secret = (await page.getByTestId("new-key-secret").textContent())!.trim();
    expect(secret).toMatch(/^sb-/);
    await page.screenshot({ path: await screenshotPath("keys-created.png") });
    await dialog.getByRole("button", { name: "I have stored it" }).click();
    await dialog.waitFor({ state: "detached" });
    // Shown once: the page no longer holds the secret anywhere.
    expect(await page.content()).not.toContain(secret);

    for (let i = 0; i < 4; i++) expect((await chatWith(secret, `request ${i}`)).status).toBe(200);
    expect((await chatWith(secret, "tagged request", "team:billing, feature=invoices")).status).toBe(200);
    // Asked twice with a cache time: the second is answered from the response cache, and saves.
    const cacheFor10Min = { "x-switchboard-cache-ttl": "600" };
    expect((await chatWith(secret, "asked twice", undefined, cacheFor10Min)).headers.get("x-switchboard-cache")).toBe("miss");
    expect((await chatWith(secret, "asked twice", undefined, cacheFor10Min)).headers.get("x-switchboard-cache")).toBe("hit");
    await page.reload();
    const row = page.getByTestId("keys-table").getByRole("row", { name: /billing-service/ });
    await row.waitFor();
    await row.getByText("env=prod").waitFor();
    // The calls' spend (not $0.00): the log is written about every second, a reload reads it.
    const spent = row.getByText(/^\$(?!0\.00 )[\d,.]+ \/ \$25\.00$/);
    await expect.poll(async () => {
      if (await spent.isVisible()) return true;
      await page.reload();
      return spent.isVisible();
    }, { timeout: 15_000 }).toBe(true);
    await fullPageShot(page, "keys.png");

    await page.getByRole("link", { name: "Logs" }).click();
    await page.getByRole("heading", { name: "Logs", level: 1 }).waitFor();
    const logRow = page.getByTestId("logs-table").getByRole("row", { name: /\/v1\/chat\/completions/ }).first();
    await logRow.waitFor({ timeout: 15_000 }).catch(async () => {
      // The rows are written in batches off the request path; a reload reads them again.
      await page.reload();
      await logRow.waitFor();
    });
    // Live tail picks up new requests without a reload.
    const before = await page.getByTestId("logs-table").getByRole("row").count();
    await page.getByLabel("Live tail").check();
    expect((await chatWith(secret, "tail me")).status).toBe(200);
    await expect.poll(async () => page.getByTestId("logs-table").getByRole("row").count(), { timeout: 10_000 }).toBeGreaterThan(before);
    await page.getByLabel("Live tail").uncheck();
    // The tag filter keeps the one tagged request, its tags shown as chips.
    await page.getByRole("textbox", { name: "Tag", exact: true }).fill("team:billing");
    await expect.poll(async () => page.getByTestId("logs-table").getByRole("row").count(), { timeout: 10_000 }).toBe(2);
    await page.getByTestId("logs-table").getByText("feature=invoices").waitFor();
    // The key's own tags come first, on every request made with it.
    await page.getByTestId("logs-table").getByText("app:billing").waitFor();
    await page.getByRole("textbox", { name: "Tag", exact: true }).fill("");
    // Only what the response cache answered: the one repeat, and as CSV the same row.
    await page.getByLabel("Answered by").selectOption("hit");
    await expect.poll(async () => page.getByTestId("logs-table").getByRole("row").count(), { timeout: 10_000 }).toBe(2);
    await page.getByTestId("logs-table").getByText("cached", { exact: true }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^switchboard-requests-\d{4}-\d\d-\d\d\.csv$/);
    const csv = (await readFile((await download.path())!, "utf8")).trim().split("\n");
    expect(csv).toHaveLength(2);
    const [header, hit] = csv.map((line) => line.split(","));
    expect(hit![header!.indexOf("cacheHit")]).toBe("true");
    expect(Number(hit![header!.indexOf("cacheSavedUsd")])).toBeGreaterThan(0);
    await page.getByLabel("Answered by").selectOption("");
    await logRow.click();
    const drawer = page.getByTestId("log-drawer");
    await drawer.getByRole("heading", { name: "Attempts" }).waitFor();
    await drawer.getByText(/template · success/).waitFor();
    await page.screenshot({ path: await screenshotPath("logs.png") });
    await drawer.getByRole("button", { name: "Close" }).click();
    // Purging kept answers asks first, then says it is done.
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Purge everyone's" }).click();
    await page.getByRole("status").filter({ hasText: "Purged everyone's cached answers." }).waitFor();
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Purge my cached answers" }).click();
    await page.getByRole("status").filter({ hasText: "Purged your cached answers." }).waitFor();
    // Both purges are on record below the log, newest first: when, whose answers, by whom.
    const purges = page.getByRole("region", { name: "Cache purges" });
    const recorded = async () => Promise.all((await purges.getByRole("row").all()).slice(1).map(async (row) => (await row.getByRole("cell").allInnerTexts()).slice(1)));
    await expect.poll(recorded).toEqual([[api.email, api.email], ["Everyone's", api.email]]);
    await purges.scrollIntoViewIfNeeded();
    await purges.screenshot({ path: await screenshotPath("logs-cache-purges.png") });

    await page.getByRole("link", { name: "Spend" }).click();
    await page.getByRole("heading", { name: "Spend", level: 1 }).waitFor();
    await page.getByTestId("top-key").getByText(/billing-service/).waitFor();
    await page.getByRole("tab", { name: "By model" }).click();
    await page.getByTestId("top-model").getByRole("cell", { name: "auto" }).waitFor();
    // What the one cache hit saved: beside the month's spend, and on its model's row.
    await page.getByTestId("cache-saved").getByText(/≈ \$[\d.]+ saved by the response cache \(1 hit\)/).waitFor();
    await page.getByTestId("top-model").getByRole("row", { name: /auto/ }).getByTitle("1 request answered from the response cache").waitFor();
    await fullPageShot(page, "spend.png");
    // The table as CSV: the same groups, then the total.
    const [spendCsv] = await Promise.all([page.waitForEvent("download"), page.getByRole("region", { name: "By model" }).getByRole("button", { name: "Download CSV" }).click()]);
    expect(spendCsv.suggestedFilename()).toMatch(/^switchboard-usage-by-model-\d{4}-\d\d-\d\d\.csv$/);
    const spendLines = (await readFile((await spendCsv.path())!, "utf8")).trim().split("\n");
    expect(spendLines.map((line) => line.split(",")[0])).toEqual(["key", "auto", "TOTAL"]);
    // Spend by tag: the key's own tag on each of its requests, the request's tag on the one.
    await page.getByRole("tab", { name: "By tag" }).click();
    await page.getByTestId("top-tag").getByRole("row", { name: /app:billing/ }).waitFor();
    await page.getByTestId("top-tag").getByRole("row", { name: /team:billing/ }).getByRole("cell", { name: "1", exact: true }).waitFor();
    // Spend of one tag: the tagged request alone.
    await page.getByRole("tab", { name: "By API key" }).click();
    await page.getByRole("textbox", { name: "Tag", exact: true }).fill("team:billing");
    await page.getByTestId("top-key").getByRole("row", { name: /billing-service/ }).getByRole("cell", { name: "1", exact: true }).waitFor();
    await page.getByRole("textbox", { name: "Tag", exact: true }).fill("not a tag");
    await page.getByRole("status").getByText(/letters, digits/).waitFor();
    await page.getByRole("textbox", { name: "Tag", exact: true }).fill("");

    // A budget on a tag, set here: every request carrying the tag is capped, whoever sends it.
    const budgets = page.getByRole("region", { name: "Tag budgets" });
    await budgets.getByLabel("Tag to budget").fill("team:billing");
    await budgets.getByLabel("Budget (USD)").fill("0.50");
    await budgets.getByRole("button", { name: "Set budget" }).click();
    const budgetRow = page.getByTestId("tag-budgets").getByRole("row", { name: /team:billing/ });
    await budgetRow.waitFor();
    await expect.poll(async () => (await chatWith(secret, "over the tag budget", "team:billing")).status, { timeout: 10_000 }).toBe(429);
    expect((await chatWith(secret, "another team's request", "team:other")).status).toBe(200);
    await expect.poll(async () => {
      await page.reload();
      await budgetRow.waitFor();
      return budgetRow.locator(".budget-over").count();
    }, { timeout: 15_000 }).toBe(1);
    // One kept to the keys carrying its tag: this key does not, so naming it is refused.
    await budgets.getByLabel("Tag to budget").fill("team:reserved");
    await budgets.getByLabel("Budget (USD)").fill("100");
    await budgets.getByLabel("Only keys carrying it").check();
    await budgets.getByRole("button", { name: "Set budget" }).click();
    const reservedRow = page.getByTestId("tag-budgets").getByRole("row", { name: /team:reserved/ });
    await reservedRow.getByText("keys carrying it").waitFor();
    expect((await chatWith(secret, "not our team's tag", "team:reserved")).status).toBe(403);
    await budgets.scrollIntoViewIfNeeded();
    await fullPageShot(page, "spend-tag-budgets.png");
    page.once("dialog", (d) => void d.accept());
    await budgetRow.getByRole("button", { name: "Remove" }).click();
    await budgetRow.waitFor({ state: "detached" });
    expect((await chatWith(secret, "no longer capped", "team:billing")).status).toBe(200);

    await page.getByRole("link", { name: "API keys" }).click();
    // Retagged from the admin: the key's row shows the new tags.
    await page.getByTestId("keys-table").getByRole("row", { name: /billing-service/ }).getByRole("button", { name: "Edit" }).click();
    const editor = page.getByTestId("edit-key-dialog");
    // The dialog opens on the key's settings as they are.
    expect(await editor.getByLabel("Requests / min").inputValue()).toBe("600");
    expect(await editor.getByLabel("Budget (USD)").inputValue()).toBe("25");
    // A rate typed wrong is said so, never saved as "no limit".
    await editor.getByLabel("Requests / min").fill("1e");
    await editor.getByRole("button", { name: "Save" }).click();
    await editor.getByText(/whole number of requests per minute/).waitFor();
    await editor.getByLabel("Requests / min").fill("600");
    await editor.getByLabel("Tags").fill("app:billing-v2");
    await editor.getByLabel("Budget (USD)").fill("40");
    await editor.getByLabel("Models", { exact: true }).fill("gpt-4o-mini");
    await editor.getByRole("checkbox", { name: "consensus" }).check();
    await page.screenshot({ path: await screenshotPath("keys-edit.png") });
    await editor.getByRole("button", { name: "Save" }).click();
    await editor.waitFor({ state: "detached" });
    const edited = page.getByTestId("keys-table").getByRole("row", { name: /billing-service/ });
    await edited.getByText("app:billing-v2").waitFor();
    await edited.getByText(/ \/ \$40\.00$/).waitFor();
    await edited.getByText(/consensus/).waitFor();
    // In force at the next request: a model outside the key's list is refused.
    expect((await chatWith(secret, "outside the list")).status).toBe(403);
    page.once("dialog", (d) => void d.accept());
    await page.getByTestId("keys-table").getByRole("row", { name: /billing-service/ }).getByRole("button", { name: "Revoke" }).click();
    await page.getByTestId("keys-table").getByRole("row", { name: /billing-service/ }).waitFor({ state: "detached" });
    expect((await chatWith(secret, "after revoke")).status).toBe(401);
    expect(errors).toEqual([]);
  });

  it("works at 390 px wide, and no table clips at 1280 px", async () => {
    context = await newContext(browser, api.baseUrl);
    const page = await signIn(context, api.email, api.password, errors);
    for (const [path, heading] of [["/keys", "API keys"], ["/logs", "Logs"], ["/spend", "Spend"]] as const) {
      await page.setViewportSize({ width: 1280, height: 820 });
      await page.goto(path);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      expect(await overflowingTables(page), `${path} at 1280`).toEqual([]);
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(50);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(overflow, `${path} at 390`).toBeLessThanOrEqual(390);
      if (path === "/logs") await page.screenshot({ path: await screenshotPath("logs-mobile.png") });
    }
    expect(errors).toEqual([]);
  });
});
