// Browser test of the Chat page against a real API on the embedded default, where the
// offline template provider answers: a streamed reply, who answered, the fallback trail,
// and reopening a past conversation.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiToken, callProcedure, ensureAdminBuild, launchBrowser, newContext, screenshotPath, signIn, startApi, type ApiServer } from "./support.ts";

let api: ApiServer;
let browser: Browser;
let context: BrowserContext | undefined;

beforeAll(async () => {
  ensureAdminBuild();
  // Paced words, so the browser has a stream to watch.
  api = await startApi({ env: { TEMPLATE_STREAM_DELAY_MS: "15" } });
  browser = await launchBrowser();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await api?.stop();
});

async function signedInPage(): Promise<Page> {
  context = await newContext(browser, api.baseUrl);
  return signIn(context, api.email, api.password);
}

describe("chat page", () => {
  it("streams a reply from the template provider, shows who answered, and reopens the conversation", async () => {
    const page = await signedInPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat", exact: true }).click();
    await page.waitForURL("**/chat");
    await page.getByRole("heading", { name: "Chat", level: 1 }).waitFor();

    // Only the template is configured on the embedded default; the others show as such.
    const picker = page.getByRole("combobox", { name: "Provider" });
    await picker.locator("option", { hasText: "template" }).waitFor({ state: "attached" });
    expect(await picker.locator("option", { hasText: "deepseek" }).isDisabled()).toBe(true);

    // Record every length the reply's text goes through while it streams.
    await page.evaluate(() => {
      const w = window as unknown as { __lengths: number[] };
      w.__lengths = [];
      new MutationObserver(() => {
        const body = document.querySelector('[data-testid="assistant-content"]');
        const length = body?.textContent?.length ?? 0;
        if (length > 0 && w.__lengths.at(-1) !== length) w.__lengths.push(length);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });

    await page.getByRole("textbox", { name: "Message" }).fill("Hello! What can you do?");
    await page.getByRole("button", { name: "Send" }).click();
    const reply = page.getByTestId("assistant-message").last();
    await reply.getByText(/offline responder/).waitFor();
    await reply.getByRole("list", { name: "Providers tried" }).waitFor();

    const lengths = await page.evaluate(() => (window as unknown as { __lengths: number[] }).__lengths);
    expect(lengths.length, "the reply grew token by token").toBeGreaterThan(5);
    expect(await reply.getByTestId("answered-by").textContent()).toContain("template");
    expect(await reply.getByRole("list", { name: "Providers tried" }).textContent()).toContain("template · answered");
    expect(await reply.textContent()).toMatch(/\d+ \+ \d+ tokens/);
    await page.getByRole("button", { name: "Send" }).waitFor();
    await page.screenshot({ path: await screenshotPath("chat.png") });

    // The conversation is in the list; a new chat clears the thread; the list reopens it.
    const list = page.getByRole("navigation", { name: "Conversations" });
    await list.getByRole("button", { name: /Hello! What can you do\?/ }).waitFor();
    await page.getByRole("button", { name: "New chat" }).click();
    await page.getByRole("heading", { name: "New conversation" }).waitFor();
    expect(await page.getByTestId("assistant-message").count()).toBe(0);
    await list.getByRole("button", { name: /Hello! What can you do\?/ }).click();
    await page.getByTestId("assistant-message").getByText(/offline responder/).waitFor();
    expect(await page.getByTestId("user-message").first().textContent()).toContain("Hello! What can you do?");

    // A pinned provider and a follow-up in the same conversation.
    await picker.selectOption("template");
    await page.getByRole("textbox", { name: "Message" }).fill("How do I write a Python function that parses dates?");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("assistant-message").nth(1).getByText(/def parses_dates/).waitFor();
    expect(await page.getByTestId("user-message").count()).toBe(2);

    expect(errors).toEqual([]);
  });

  it("opens a long conversation at its newest messages and loads older ones on request", async () => {
    const token = await apiToken(api, api.email, api.password);
    const messages = Array.from({ length: 70 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: `long thread message ${i}` }));
    await callProcedure(api, "chat.conversations.import", { title: "A long thread", messages }, token);
    const page = await signedInPage();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat", exact: true }).click();
    await page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name: /A long thread/ }).click();

    // The newest page (50 of 70) shows; the first twenty wait behind a button.
    await page.getByText("long thread message 69", { exact: true }).waitFor();
    expect(await page.getByText("long thread message 20", { exact: true }).count()).toBe(1);
    expect(await page.getByText("long thread message 19", { exact: true }).count()).toBe(0);
    await page.getByRole("button", { name: "Show earlier messages (20 more)" }).click();
    await page.getByText("long thread message 0", { exact: true }).waitFor();
    expect(await page.getByTestId("user-message").count()).toBe(35);
    expect(await page.getByRole("button", { name: /Show earlier messages/ }).count()).toBe(0);
  });

  /** 31 more conversations, then the Chat page showing its first page of 30 with a Load more. */
  async function pagedConversations(titled: string) {
    const token = await apiToken(api, api.email, api.password);
    for (let i = 0; i < 31; i++) {
      await callProcedure(api, "chat.conversations.import", { title: `${titled} ${i}`, messages: [{ role: "user", content: `hello ${i}` }] }, token);
    }
    const page = await signedInPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat", exact: true }).click();
    const list = page.getByRole("navigation", { name: "Conversations" });
    const rows = list.getByRole("listitem");
    await list.getByRole("button", { name: "Load more" }).waitFor();
    expect(await rows.count()).toBe(30);
    return { token, page, errors, list, rows };
  }

  it("goes on from where it was when the conversation its next page starts after was deleted elsewhere", async () => {
    const { token, errors, list, rows } = await pagedConversations("paged conversation");

    // Another tab deletes the last conversation shown, the one the next page starts after.
    const first = await callProcedure<{ items: Array<{ id: string; title: string }>; nextCursor: string }>(api, "chat.conversations.list", { limit: 30 }, token);
    const gone = first.items.at(-1)!;
    await callProcedure(api, "chat.conversations.delete", { id: gone.id }, token);
    const remaining = (await callProcedure<{ items: Array<{ title: string }> }>(api, "chat.conversations.list", { limit: 100 }, token)).items.map((c) => c.title);

    // The cursor carries the place, not the row: no error, no silent end, no reading again from
    // the top. The next page is the conversations below the deleted one, to the end.
    await list.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => rows.count()).toBe(remaining.length + 1);
    const titles = await list.locator(".chat-list-title").allInnerTexts();
    // (The deleted one stays on the page already shown until the list is read again.)
    expect(titles.filter((title) => title !== gone.title)).toEqual(remaining);
    expect(await list.getByRole("button", { name: "Load more" }).count()).toBe(0);
    expect(await list.getByRole("alert").count()).toBe(0);
    expect(await list.locator(".alert-error").count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("shows each conversation once when the one its next page starts after was written to meanwhile", async () => {
    const { token, page, list, rows } = await pagedConversations("moving conversation");
    const warnings: string[] = [];
    page.on("console", (message) => void (message.type() === "error" && warnings.push(message.text())));

    // Another tab writes to the last conversation shown, the one the next page starts after: the
    // list is by last activity, so it moves to the top, above the place the next page reads from.
    const first = await callProcedure<{ items: Array<{ id: string }>; nextCursor: string }>(api, "chat.conversations.list", { limit: 30 }, token);
    await callProcedure(api, "chat.send", { conversationId: first.items.at(-1)!.id, message: "still here" }, token);
    const total = (await callProcedure<{ items: unknown[] }>(api, "chat.conversations.list", { limit: 100 }, token)).items.length;

    // Every page, to the end: each conversation once, all of them.
    while ((await list.getByRole("button", { name: "Load more" }).count()) > 0) {
      const shown = await rows.count();
      await list.getByRole("button", { name: "Load more" }).click();
      await expect.poll(async () => (await rows.count()) > shown || (await list.getByRole("button", { name: "Load more" }).count()) === 0).toBe(true);
    }
    const titles = await rows.allInnerTexts();
    expect(titles).toHaveLength(total);
    expect(new Set(titles).size).toBe(titles.length);
    expect(warnings.filter((w) => w.includes("same key"))).toEqual([]);
  });
});
