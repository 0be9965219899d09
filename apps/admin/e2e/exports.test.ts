// Browser test of the Logs and Spend pages' CSV downloads against a real API server: a whole
// export downloads its CSV; one cut at its cap says so beside the button and still downloads
// the newest rows; a refused one (a malformed filter, the user's stream slots full, signed out)
// shows why in the page and saves no file. The API runs in this process, as its integration
// tests start it, for its one test knob a child process cannot take: a cap of a few rows.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Browser, BrowserContext, Download, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../api/test/app.ts";
import { requestLogRow } from "../../api/test/request-log-row.ts";
import { ADMIN_DIST, ensureAdminBuild, launchBrowser, newContext, screenshotPath, signIn } from "./support.ts";

/** The most rows an export holds here. */
const CAP = 3;

let t: TestApp;
let browser: Browser;
let context: BrowserContext | undefined;
const errors: string[] = [];
/** The request ids of the requests to "cut-model", newest first. */
let cutIds: string[];

beforeAll(async () => {
  ensureAdminBuild();
  t = await startTestApp({ mode: "embedded", env: { ADMIN_DIST_DIR: ADMIN_DIST, STREAMS_PER_USER: "3" }, appOptions: { logExportMaxRows: CAP } });
  browser = await launchBrowser();
  // Requests of two models: as many as the cap holds, and more.
  const at = Date.now() - 60_000;
  const rows = [...Array.from({ length: CAP }, () => "whole-model"), ...Array.from({ length: CAP + 2 }, () => "cut-model")].map((model, i) => {
    const row = requestLogRow({ model, createdAt: new Date(at + i) });
    return { ...row, tags: [...row.tags], id: randomUUID(), attempts: [] };
  });
  await t.app.deps.db.prisma.requestLog.createMany({ data: rows });
  cutIds = rows.filter((r) => r.model === "cut-model").map((r) => r.requestId).reverse();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function logsPage(): Promise<Page> {
  context = await newContext(browser, t.url);
  const page = await signIn(context, TEST_SUPERADMIN.email, TEST_SUPERADMIN.password, errors);
  await page.getByRole("link", { name: "Logs" }).click();
  await page.getByRole("heading", { name: "Logs", level: 1 }).waitFor();
  return page;
}

/** Shows `model`'s requests (header row and `rows` rows). */
async function filterModel(page: Page, model: string, rows: number): Promise<void> {
  await page.getByRole("textbox", { name: "Model" }).fill(model);
  await expect.poll(async () => page.getByTestId("logs-table").getByRole("row").count()).toBe(rows + 1);
}

const linesOf = async (download: Download) => (await readFile((await download.path())!, "utf8")).trim().split("\n");

/** Counts the downloads a page starts from now on. */
function downloadsOf(page: Page): () => number {
  let started = 0;
  page.on("download", () => (started += 1));
  return () => started;
}

/** Clicks Download CSV and waits for the refusal it shows; no file was saved. */
async function refused(page: Page, within: Page | Locator, message: RegExp): Promise<void> {
  const downloads = downloadsOf(page);
  await within.getByRole("button", { name: "Download CSV" }).click();
  const note = within.getByTestId("download-note").filter({ hasText: message });
  await note.waitFor();
  expect(await note.getAttribute("role")).toBe("alert");
  // Time for a download that would follow.
  await page.waitForTimeout(500);
  expect(downloads()).toBe(0);
}

describe("Download CSV on the Logs and Spend pages", () => {
  it("downloads a whole export with nothing to say, and says beside the button when one is cut at its cap", async () => {
    const page = await logsPage();
    await filterModel(page, "whole-model", CAP);
    const [whole] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
    expect(whole.suggestedFilename()).toMatch(/^switchboard-requests-\d{4}-\d\d-\d\d\.csv$/);
    expect(await linesOf(whole)).toHaveLength(CAP + 1);
    expect(await page.getByTestId("download-note").count()).toBe(0);

    // More match than the cap: still downloaded (the newest), and said so.
    await filterModel(page, "cut-model", CAP + 2);
    const [cut] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
    const note = page.getByRole("status").filter({ hasText: `The file holds only the newest ${CAP} of the matching requests` });
    await note.waitFor();
    const [header, ...rows] = (await linesOf(cut)).map((line) => line.split(","));
    expect(rows.map((r) => r[header!.indexOf("requestId")])).toEqual(cutIds.slice(0, CAP));
    await page.screenshot({ path: await screenshotPath("logs-export-cut.png") });
    // The note was that export's: other filters, no note.
    await filterModel(page, "whole-model", CAP);
    await note.waitFor({ state: "detached" });
    expect(errors).toEqual([]);
  });

  it("shows a refused export's error in the page and saves no file: a malformed filter, the stream slots full, signed out", async () => {
    const page = await logsPage();
    // A model name longer than any: the table and the export refuse it, naming the field.
    await page.getByRole("textbox", { name: "Model" }).fill("m".repeat(201));
    await refused(page, page, /model/);

    // The user's stream slots all held (as open streams hold them): 429, and its words.
    await page.getByRole("textbox", { name: "Model" }).fill("whole-model");
    const me = await t.app.deps.db.prisma.user.findUniqueOrThrow({ where: { email: TEST_SUPERADMIN.email } });
    const held: Array<() => void> = [];
    for (let slot = t.app.deps.streams.acquire({ kind: "user", id: me.id }); slot.ok; slot = t.app.deps.streams.acquire({ kind: "user", id: me.id })) held.push(slot.release);
    try {
      await refused(page, page, /Too many open streams/);
    } finally {
      for (const release of held) release();
    }

    // Signed out (the session's cookies gone): the Logs page and the Spend page both say so.
    await page.getByRole("link", { name: "Spend" }).click();
    await page.getByRole("heading", { name: "Spend", level: 1 }).waitFor();
    await context!.clearCookies();
    await refused(page, page.getByRole("region", { name: "By API key" }), /Sign in first/);
    expect(errors).toEqual([]);
  });
});
