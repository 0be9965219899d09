// Browser test of the Consensus page against a real API whose providers are local servers
// speaking the OpenAI protocol: answers appear side by side as they arrive, then the winner
// and the agreement meter; a refusal shows on its field; history reopens a past run.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../api/test/fake-openai-server.ts";
import { ensureAdminBuild, launchBrowser, newContext, screenshotPath, signIn, startApi, type ApiServer } from "./support.ts";

const PROMPT = "What is the boiling point of water at sea level, in degrees Celsius?";

let api: ApiServer;
let browser: Browser;
let context: BrowserContext | undefined;
let fakes: FakeOpenAIServer[] = [];
let releaseDeepseek: () => void = () => {};

beforeAll(async () => {
  ensureAdminBuild();
  const held = new Promise<void>((resolve) => (releaseDeepseek = resolve));
  const isAggregatorCall = (body: { messages?: Array<{ role: string; content: string }> }) =>
    body.messages?.some((m) => m.role === "system" && m.content.includes("synthesize these responses")) ?? false;
  fakes = await Promise.all([
    startFakeOpenAI({ name: "beta", defaultBehavior: { kind: "ok", content: "100" } }),
    // Held until the test has seen the others arrive: arrival order is the point.
    startFakeOpenAI({ name: "deepseek", defaultBehavior: { kind: "wait", until: held, content: "One hundred." } }),
    startFakeOpenAI({
      name: "openai",
      defaultBehavior: ({ body }) => ({
        kind: "ok",
        content: isAggregatorCall(body) ? "Water boils at 100 °C at sea level (212 °F)." : "212",
      }),
    }),
  ]);
  const [beta, deepseek, openai] = fakes as [FakeOpenAIServer, FakeOpenAIServer, FakeOpenAIServer];
  api = await startApi({
    env: {
      BETA_MODEL_BASE_URL: beta.url,
      BETA_MODEL_NAME: "beta-7b",
      DEEPSEEK_API_KEY: "sk-e2e",
      DEEPSEEK_BASE_URL: deepseek.url,
      OPENAI_API_KEY: "sk-e2e",
      OPENAI_BASE_URL: openai.url,
      PROVIDER_ORDER: "beta,deepseek,openai,template",
    },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  releaseDeepseek();
  await context?.close();
  await browser?.close();
  await api?.stop();
  await Promise.all(fakes.map((f) => f.close()));
});

async function signedInPage(): Promise<Page> {
  context = await newContext(browser, api.baseUrl);
  return signIn(context, api.email, api.password);
}

describe("consensus page", () => {
  it("shows answers as they arrive, the winner with its agreement, refusals and history", async () => {
    const page = await signedInPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Consensus", exact: true }).click();
    await page.waitForURL("**/consensus");
    await page.getByRole("heading", { name: "Consensus", level: 1 }).waitFor();

    // Default models: every configured upstream; the template is opt-in. Ollama is not
    // configured, so it is not a provider at all and the form does not offer it.
    const form = page.getByRole("form", { name: "Run consensus" });
    const box = (name: string) => form.getByRole("checkbox", { name: new RegExp(`^${name}\\b`) });
    await expect.poll(() => box("beta").isChecked()).toBe(true);
    expect(await box("deepseek").isChecked()).toBe(true);
    expect(await box("openai").isChecked()).toBe(true);
    expect(await box("template").isChecked()).toBe(false);
    expect(await box("ollama").count()).toBe(0);

    // A refusal from the server shows next to its field.
    await form.getByLabel("Prompt").fill(PROMPT);
    await form.getByLabel("Quorum").fill("5");
    await form.getByRole("button", { name: "Run consensus" }).click();
    await form.getByText("Quorum 5 is larger than the 3 providers asked").waitFor();

    // Majority vote: two answers arrive while deepseek is still thinking.
    await form.getByLabel("Quorum").fill("");
    await form.getByLabel("Strategy").selectOption("majority");
    await form.getByRole("button", { name: "Run consensus" }).click();
    const card = (provider: string) => page.getByRole("article", { name: `Answer from ${provider}` });
    await card("beta").getByText("100", { exact: true }).waitFor();
    await card("openai").getByText("212", { exact: true }).waitFor();
    await card("deepseek").getByText("Waiting…").waitFor();
    expect(await page.getByTestId("consensus-winner").count()).toBe(0);

    releaseDeepseek();
    await card("deepseek").getByText("One hundred.").waitFor();
    await page.getByTestId("consensus-winner").getByText("100", { exact: true }).waitFor();
    const meter = page.getByRole("meter", { name: "Agreement" });
    expect(await meter.getAttribute("aria-valuenow")).toBe("67");
    expect(await page.getByTestId("agreement-value").textContent()).toBe("67%");
    expect(await card("beta").getByText("Backs the winner").isVisible()).toBe(true);
    expect(await card("deepseek").getByText("Backs the winner").isVisible()).toBe(true);
    expect(await card("openai").getByText("Answered").isVisible()).toBe(true);

    const history = page.getByRole("table", { name: "History" });
    await history.getByRole("row", { name: /Majority vote/ }).waitFor();

    // Synthesize: openai merges the three answers.
    await form.getByLabel("Strategy").selectOption("synthesize");
    await form.getByLabel("Aggregator").selectOption("openai");
    await form.getByRole("button", { name: "Run consensus" }).click();
    await page.getByTestId("consensus-winner").getByText("Water boils at 100 °C at sea level (212 °F).").waitFor();
    await page.getByText("merged by openai", { exact: false }).waitFor();
    await history.getByRole("row", { name: /Synthesize/ }).waitFor();

    // History reopens the majority run in the same view.
    await history.getByRole("row", { name: /Majority vote/ }).getByRole("button").click();
    await page.getByTestId("consensus-winner").getByText("100", { exact: true }).waitFor();
    await expect.poll(() => page.getByRole("meter", { name: "Agreement" }).getAttribute("aria-valuenow")).toBe("67");

    // The whole page in one viewport, so the sticky sidebar spans it in the screenshot.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1360, height });
    await page.screenshot({ path: await screenshotPath("consensus.png") });
    expect(errors).toEqual([]);
  });
});
