// Browser test of the Dashboard against a real API whose providers are local OpenAI-protocol
// servers: real traffic first (successes, fallbacks, an error, streams), then the page must
// show non-zero figures in the provider table, the stat tiles, the charts and the instances.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../api/test/fake-openai-server.ts";
import { ensureAdminBuild, launchBrowser, newContext, screenshotPath, signIn, startApi, type ApiServer } from "./support.ts";

let api: ApiServer;
let browser: Browser;
let context: BrowserContext | undefined;
let beta: FakeOpenAIServer;
let deepseek: FakeOpenAIServer;
let token: string;

beforeAll(async () => {
  ensureAdminBuild();
  [beta, deepseek] = await Promise.all([
    startFakeOpenAI({ name: "beta", defaultBehavior: { kind: "slow", delayMs: 60, content: "Beta answers in a moment." } }),
    startFakeOpenAI({ name: "deepseek", defaultBehavior: { kind: "slow", delayMs: 140, content: "DeepSeek answers a little later." } }),
  ]);
  api = await startApi({
    env: {
      BETA_MODEL_BASE_URL: beta.url,
      DEEPSEEK_API_KEY: "sk-e2e",
      DEEPSEEK_BASE_URL: deepseek.url,
      PROVIDER_ORDER: "beta,deepseek,template",
      CHAT_RATE_LIMIT_PER_MIN: "10000",
      METRICS_DB_FLUSH_INTERVAL_MS: "500",
    },
  });
  const login = await post("/trpc/auth.login", { email: api.email, password: api.password });
  token = ((await login.json()) as { result: { data: { accessToken: string } } }).result.data.accessToken;
  browser = await launchBrowser();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await api?.stop();
  await Promise.all([beta?.close(), deepseek?.close()]);
});

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${api.baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

/** A mix of gateway traffic: chat.send, /v1 (JSON and SSE, some asked again of the response cache), fallbacks and one refusal. */
async function traffic(rounds: number): Promise<void> {
  const auth = { authorization: `Bearer ${token}` };
  for (let i = 0; i < rounds; i++) {
    if (i % 7 === 3) beta.enqueue({ kind: "status", status: 503 });
    const calls = [
      post("/trpc/chat.send", { message: `question ${i}` }, auth),
      post("/v1/chat/completions", { model: "auto", stream: i % 2 === 0, messages: [{ role: "user", content: `v1 ${i}` }] }, auth),
    ];
    if (i % 4 === 0) calls.push(post("/v1/chat/completions", { model: "deepseek", messages: [{ role: "user", content: "pinned" }] }, auth));
    if (i % 3 === 0) calls.push(post("/v1/chat/completions", { model: "auto", messages: [{ role: "user", content: "asked again" }] }, { ...auth, "x-switchboard-cache-ttl": "3600" }));
    for (const res of await Promise.all(calls)) {
      expect(res.status).toBe(200);
      await res.text();
    }
  }
  expect((await post("/trpc/chat.send", { message: "" }, auth)).status).toBe(400);
}

async function signedInPage(): Promise<Page> {
  context = await newContext(browser, api.baseUrl);
  return signIn(context, api.email, api.password);
}

const numberIn = async (page: Page, selector: string) => Number(((await page.locator(selector).first().textContent()) ?? "").replace(/[^\d.]/g, ""));

describe("dashboard", () => {
  it("shows live provider figures, charts and instances after real traffic", async () => {
    await traffic(12);
    const page = await signedInPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();

    // Keep traffic flowing while the page is open, so the live tiles move.
    const background = traffic(10);

    const betaRow = page.getByTestId("provider-beta");
    await betaRow.waitFor();
    expect(await numberIn(page, '[data-testid="provider-beta"] [data-testid="calls"]')).toBeGreaterThan(0);
    expect(await betaRow.getByTestId("success-rate").textContent()).toMatch(/\d+(\.\d+)? %/);
    expect(await betaRow.getByTestId("p95").textContent()).toMatch(/\d+(\.\d)? ms/);
    expect(await betaRow.getByText("Closed").isVisible()).toBe(true);
    expect(await numberIn(page, '[data-testid="provider-deepseek"] [data-testid="calls"]')).toBeGreaterThan(0);

    expect(await numberIn(page, '[data-testid="stat-rpm"] .stat-value')).toBeGreaterThan(0);
    expect(await numberIn(page, '[data-testid="stat-errors"] .stat-value')).toBeGreaterThan(0);
    expect(await page.getByTestId("stat-emergency").textContent()).toContain("Normal");
    // The same question asked again: answered from the response cache after the first time.
    expect(await numberIn(page, '[data-testid="stat-cache"] .stat-value')).toBeGreaterThan(0);
    expect(await page.getByTestId("stat-cache").textContent()).toMatch(/\d+ of \d+ answered without a provider/);
    expect(await page.getByTestId("instance-row").count()).toBe(1);
    expect(await page.getByTestId("instance-row").getByText("Live").isVisible()).toBe(true);

    // The per-minute charts have bars for requests and a latency line.
    const requests = page.getByRole("figure", { name: "Requests per minute" });
    await requests.locator('rect[data-series="Gateway requests"]').first().waitFor();
    const latency = page.getByRole("figure", { name: "Upstream latency" }).locator('[data-series="p95"] :is(polyline, circle)').first();
    await latency.waitFor();
    await page.getByRole("figure", { name: "Errors per minute" }).locator("rect").first().waitFor();

    await background;
    // Let a few live pushes land so the sparklines show the traffic.
    await page.waitForFunction(() => {
      const text = document.querySelector('[data-testid="stat-rpm"] .stat-detail')?.textContent ?? "";
      return Number(text.replace(/[^\d]/g, "")) >= 50;
    });
    // The whole page in one viewport (the sidebar is as tall as the viewport, not the page).
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1360, height });
    await page.screenshot({ path: await screenshotPath("dashboard.png") });
    expect(errors).toEqual([]);
  });
});
