// Browser test of the Providers and Models pages against a real API and a local upstream
// speaking the OpenAI protocol: add a provider, test it (a wrong key shows the upstream's
// 401), route a model to it with weights and prices, reorder the fallback, and use it; then
// the configuration as a document: download it (JSON and YAML), preview an edited one, apply it;
// and a stored key that the instance's SECRETS_KEY cannot read, entered again.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext } from "playwright-core";
import { readYamlDocument, writeYamlDocument } from "@switchboard/schema/config-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../api/test/fake-openai-server.ts";
import { apiToken, callProcedure, ensureAdminBuild, launchBrowser, newContext, screenshotPath, signIn, startApi, type ApiServer } from "./support.ts";

let api: ApiServer;
let upstream: FakeOpenAIServer;
let browser: Browser;
let context: BrowserContext | undefined;

beforeAll(async () => {
  ensureAdminBuild();
  upstream = await startFakeOpenAI({ name: "groq", defaultBehavior: { kind: "ok", content: "hello from groq" } });
  api = await startApi();
  browser = await launchBrowser();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await api?.stop();
  await upstream?.close();
});

describe("Providers and Models pages", () => {
  it("adds and tests a provider, then routes a model to it with weights and prices", async () => {
    context = await newContext(browser, api.baseUrl);
    const errors: string[] = [];
    const page = await signIn(context, api.email, api.password, errors);
    const nav = page.getByRole("navigation", { name: "Main" });

    await nav.getByRole("link", { name: "Providers", exact: true }).click();
    await page.getByRole("heading", { name: "Providers", level: 1 }).waitFor();
    await page.getByTestId("provider-row-template").waitFor();

    // Bad input: the server's message shows next to the field, nothing is saved.
    const form = page.getByRole("form", { name: "Add provider" });
    await form.getByLabel("Name").fill("groq");
    await form.getByLabel("Base URL").fill("not a url");
    await form.getByRole("button", { name: "Add provider" }).click();
    await form.getByText(/baseUrl must be an http\(s\) URL/).waitFor();

    await form.getByLabel("Base URL").fill(upstream.url);
    await form.getByLabel("API key").fill("sk-e2e-0123456789abcdefWXYZ");
    await form.getByLabel("Models").fill("llama-3.3-70b");
    await form.getByRole("button", { name: "Add provider" }).click();
    await page.getByTestId("providers-notice").getByText(/Added groq; applied by 1 of 1 instances/).waitFor();

    const row = page.getByTestId("provider-row-groq");
    await row.getByText("sk-…WXYZ").waitFor();
    expect(await page.content()).not.toContain("sk-e2e-0123456789abcdefWXYZ");
    await row.getByRole("button", { name: "Test" }).click();
    await page.getByTestId("providers-notice").getByText(/groq answered in \d+ ms/).waitFor();

    upstream.enqueue({ kind: "status", status: 401, body: JSON.stringify({ error: { message: "Incorrect API key provided" } }) });
    await row.getByRole("button", { name: "Test" }).click();
    await page.getByTestId("providers-notice").getByText(/groq failed after \d+ ms: .*401/).waitFor();
    await row.getByText(/reachable/).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: await screenshotPath("providers.png"), fullPage: true });

    await nav.getByRole("link", { name: "Models", exact: true }).click();
    await page.getByRole("heading", { name: "Models", level: 1 }).waitFor();
    await page.getByTestId("model-row-auto").waitFor();
    const editor = page.getByRole("form", { name: "Add model" });
    await editor.getByLabel("Model name").fill("fast");
    await editor.getByLabel("Provider of target 1").selectOption("template");
    await editor.getByLabel("Upstream model of target 1").fill("switchboard-template-1");
    await editor.getByRole("button", { name: "Add target" }).click();
    await editor.getByLabel("Provider of target 2").selectOption("groq");
    await editor.getByLabel("Upstream model of target 2").fill("llama-3.3-70b");
    await editor.getByLabel("Weight of target 2").fill("3");
    // groq first: the fallback order is the table's order.
    await editor.getByRole("button", { name: "Move target 2 up" }).click();
    expect(await editor.getByLabel("Provider of target 1").inputValue()).toBe("groq");
    await editor.getByLabel("Input $/M tokens", { exact: true }).fill("0.59");
    await editor.getByLabel("Output $/M tokens", { exact: true }).fill("0.79");
    // A cache time of 0 is refused beside its field; a day at most, whole seconds.
    await editor.getByLabel("Cache answers (seconds)").fill("0");
    await editor.getByRole("button", { name: "Save model" }).click();
    await editor.getByText(/at least 1 second/).waitFor();
    await editor.getByLabel("Cache answers (seconds)").fill("600");
    await editor.getByRole("button", { name: "Save model" }).click();
    await page.getByTestId("models-notice").getByText(/Saved fast; applied by 1 of 1 instances/).waitFor();
    const fast = page.getByTestId("model-row-fast");
    await fast.getByText("groq/llama-3.3-70b ×3 → template/switchboard-template-1").waitFor();
    await fast.getByText("$0.59").waitFor();
    await fast.getByText("600 s").waitFor();
    await page.screenshot({ path: await screenshotPath("models.png"), fullPage: true });

    // Deleting the default route is refused by the server; it has no delete button here.
    expect(await page.getByTestId("model-row-auto").getByRole("button", { name: "Delete" }).count()).toBe(0);

    // The route serves at once.
    const res = await page.evaluate(async () => {
      const r = await fetch("/v1/models", { credentials: "same-origin" });
      return r.status;
    });
    expect([200, 401]).toContain(res);
    expect(errors).toEqual([]);
  });

  it("downloads the configuration as a document, previews an edited one, applies exactly that, and shows it in the history", async () => {
    const own = await newContext(browser, api.baseUrl);
    const errors: string[] = [];
    const page = await signIn(own, api.email, api.password, errors);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Providers", exact: true }).click();
    const card = page.getByRole("region", { name: "Configuration as code" });
    await card.waitFor();

    const [download] = await Promise.all([page.waitForEvent("download"), card.getByRole("button", { name: "Download JSON" }).click()]);
    expect(download.suggestedFilename()).toBe("switchboard-config.json");
    const exported = JSON.parse(await readFile((await download.path())!, "utf8")) as { providers: Array<{ name: string }>; models: Array<{ name: string; targets: unknown[] }> };
    expect(exported.models.map((m) => m.name)).toContain("auto");
    expect(JSON.stringify(exported)).not.toContain("sk-e2e-0123456789abcdefWXYZ");

    // The YAML download is the same document, keys in the same order, and the very file the
    // CLI's `config export --yaml` writes (both use the shared writer) — for a GitOps repository.
    const [yamlDownload] = await Promise.all([page.waitForEvent("download"), card.getByRole("button", { name: "Download YAML" }).click()]);
    expect(yamlDownload.suggestedFilename()).toBe("switchboard-config.yaml");
    const yamlText = await readFile((await yamlDownload.path())!, "utf8");
    const fromYaml = readYamlDocument(yamlText);
    expect(fromYaml).toEqual({ value: exported });
    expect(JSON.stringify("value" in fromYaml ? fromYaml.value : null)).toBe(JSON.stringify(exported));
    expect(yamlText).toBe(writeYamlDocument(exported));

    const form = card.getByRole("form", { name: "Apply a configuration document" });
    const textarea = form.getByLabel("Document (JSON or YAML)");
    // The export fills an empty editor; as it is, it changes nothing.
    expect(JSON.parse(await textarea.inputValue())).toEqual(exported);
    await form.getByRole("button", { name: "Preview" }).click();
    await form.getByTestId("config-steps").getByText(/Nothing to change/).waitFor();
    expect(await form.getByRole("button", { name: "Apply" }).isDisabled()).toBe(true);

    await textarea.fill("{ not json");
    await form.getByRole("button", { name: "Preview" }).click();
    await form.getByText(/^Not JSON:/).waitFor();
    await textarea.fill("providers: [\nmodels: []\n");
    await form.getByRole("button", { name: "Preview" }).click();
    await form.getByText(/^Line \d+, column \d+: not valid YAML/).waitFor();

    // Pasted as YAML, the way a repository may keep it.
    const edited = { ...exported, models: [...exported.models, { name: "from-the-document", targets: [{ provider: "template", upstreamModel: "switchboard-template-1" }], inputPricePerMTok: 1 }] };
    await textarea.fill(`# kept in the repository\n${writeYamlDocument(edited)}`);
    await form.getByRole("button", { name: "Preview" }).click();
    await form.getByTestId("config-steps").getByText("Applying would make 1 change(s):").waitFor();
    await form.getByTestId("config-steps").getByText("from-the-document").waitFor();
    // Changed after the preview (now as JSON): Apply waits for a new one.
    await textarea.fill(`${JSON.stringify(edited)} `);
    expect(await form.getByRole("button", { name: "Apply" }).isDisabled()).toBe(true);
    await form.getByRole("button", { name: "Preview" }).click();
    await form.getByTestId("config-steps").getByText("Applying would make 1 change(s):").waitFor();
    await form.getByRole("button", { name: "Apply" }).click();
    await form.getByTestId("config-steps").getByText(/Made 1 change\(s\) as version \d+; applied by 1 of 1 instances/).waitFor();

    // The change is in the history at once: who, what, and the fields set.
    const history = page.getByTestId("config-history");
    const entry = history.getByRole("row", { name: /model\.upsert from-the-document/ });
    await entry.waitFor();
    await entry.getByText("admin@e2e.test").waitFor();
    await entry.getByText(/targets: template\/switchboard-template-1;.* inputPricePerMTok: 1;/).waitFor();
    await page.screenshot({ path: await screenshotPath("providers-config.png"), fullPage: true });

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Models", exact: true }).click();
    await page.getByTestId("model-row-from-the-document").waitFor();
    expect(errors).toEqual([]);
    await own.close();
  });

  it("says a stored key this SECRETS_KEY cannot read must be entered again, and takes it", async () => {
    // A restart under another SECRETS_KEY (a rotation, or a key lost with its environment): the
    // embedded database is kept, the key sealed under the first cannot be opened.
    const dataDir = await mkdtemp(join(tmpdir(), "switchboard-e2e-rotated-"));
    let reopened: ApiServer | undefined;
    let own: BrowserContext | undefined;
    try {
      const sealed = await startApi({ dataDir, env: { SECRETS_KEY: randomBytes(32).toString("base64") } });
      try {
        const token = await apiToken(sealed, sealed.email, sealed.password);
        await callProcedure(sealed, "providers.create", { name: "sealed", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-sealed-under-the-first-key-1111", models: ["llama-3.3-70b"] }, token);
      } finally {
        await sealed.stop();
      }
      reopened = await startApi({ dataDir, env: { SECRETS_KEY: randomBytes(32).toString("base64"), SUPERADMIN_PASSWORD: sealed.password } });

      own = await newContext(browser, reopened.baseUrl);
      const errors: string[] = [];
      const page = await signIn(own, reopened.email, reopened.password, errors);
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Providers", exact: true }).click();
      const row = page.getByTestId("provider-row-sealed");
      await row.getByText("(unreadable)").waitFor();
      // Testing it calls nothing and says why.
      const calls = upstream.requests.length;
      await row.getByRole("button", { name: "Test" }).click();
      await page.getByTestId("providers-notice").getByText(/cannot be decrypted with this SECRETS_KEY/).waitFor();
      expect(upstream.requests.length).toBe(calls);

      await row.getByRole("button", { name: "Edit" }).click();
      const form = page.getByRole("form", { name: "Edit provider" });
      await form.getByText("The stored key cannot be read with this SECRETS_KEY: enter it again (the provider is not called until then).").waitFor();
      await form.getByLabel("API key").fill("sk-entered-again-under-the-new-2222");
      await form.getByRole("button", { name: "Save provider" }).click();
      await page.getByTestId("providers-notice").getByText(/Saved sealed; applied by 1 of 1 instances/).waitFor();
      await row.getByText("sk-…2222").waitFor();

      // Readable again: the test reaches the upstream with the key entered.
      await row.getByRole("button", { name: "Test" }).click();
      await page.getByTestId("providers-notice").getByText(/sealed answered in \d+ ms/).waitFor();
      expect(upstream.requests.at(-1)?.headers.authorization).toBe("Bearer sk-entered-again-under-the-new-2222");
      expect(errors).toEqual([]);
    } finally {
      await own?.close();
      await reopened?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
