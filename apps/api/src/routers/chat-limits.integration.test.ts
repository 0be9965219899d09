/**
 * Conversations ownership, input limits, the per-user rate limit and the circuit breaker as
 * clients see them. Runs on the embedded default (PGlite + in-process coordination), the
 * other chat suites on PostgreSQL + Redis.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHAT_LIMITS } from "@switchboard/schema";
import { errorCodeOf } from "@switchboard/client";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";

const RATE_LIMIT = 3;
const COOLDOWN_MS = 300;

let t: TestApp;
let beta: FakeOpenAIServer;

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  t = await startTestApp({
    mode: "embedded",
    env: {
      BETA_MODEL_BASE_URL: beta.url,
      PROVIDER_ORDER: "beta,template",
      CHAT_RATE_LIMIT_PER_MIN: String(RATE_LIMIT),
      CIRCUIT_FAILURE_THRESHOLD: "2",
      CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS),
    },
  });
});
afterAll(async () => {
  await t?.close();
  await beta?.close();
});
afterEach(() => {
  beta.requests.length = 0;
  beta.setDefault({ kind: "ok" });
});

describe("conversations", () => {
  it("users see only their own; another user's id is a 404 like a missing one; ADMIN sees all", async () => {
    const alice = await t.userWithRole("USER");
    const bob = await t.userWithRole("USER");
    const admin = await t.userWithRole("ADMIN");
    const { conversationId } = await t.client(alice.token).chat.send.mutate({ message: "alice's secret plan" });

    for (const [path, call] of [
      ["get", () => trpcQuery(t.url, "chat.conversations.get", { id: conversationId }, bearer(bob.token))],
      ["delete", () => trpcMutation(t.url, "chat.conversations.delete", { id: conversationId }, bearer(bob.token))],
      ["send", () => trpcMutation(t.url, "chat.send", { message: "hijack", conversationId }, bearer(bob.token))],
      ["missing", () => trpcQuery(t.url, "chat.conversations.get", { id: crypto.randomUUID() }, bearer(bob.token))],
    ] as const) {
      const res = await call();
      expect(res.status, path).toBe(404);
      expect(res.body.error.message, path).toBe("Conversation not found");
    }
    const bobsList = await t.client(bob.token).chat.conversations.list.query();
    expect(bobsList.items.map((c) => c.id)).not.toContain(conversationId);

    const adminClient = t.client(admin.token);
    expect((await adminClient.chat.conversations.get.query({ id: conversationId })).title).toBe("alice's secret plan");
    expect((await adminClient.chat.conversations.list.query({ limit: 100 })).items.map((c) => c.id)).toContain(conversationId);
    expect(await adminClient.chat.conversations.delete.mutate({ id: conversationId })).toEqual({ id: conversationId, deleted: true });
    expect((await trpcQuery(t.url, "chat.conversations.get", { id: conversationId }, bearer(alice.token))).status).toBe(404);
  });

  /** A new user with three conversations, oldest first, and the first page of two. */
  async function threeConversations() {
    const user = await t.userWithRole("USER");
    const client = t.client(user.token);
    const ids: string[] = [];
    for (const message of ["first", "second", "third"]) ids.push((await client.chat.send.mutate({ message })).conversationId);
    return { user, client, ids, page1: await client.chat.conversations.list.query({ limit: 2 }) };
  }

  it("lists newest first with cursor pagination", async () => {
    const { user: carol, client, ids, page1 } = await threeConversations();
    expect(page1.items.map((c) => c.id)).toEqual([ids[2], ids[1]]);
    expect(page1.items[0]).toMatchObject({ title: "third", messageCount: 2, userId: carol.id });
    const page2 = await client.chat.conversations.list.query({ limit: 2, cursor: page1.nextCursor! });
    expect(page2).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
  });

  it("goes on from a cursor whose conversation was deleted between pages; a plain id of a deleted one is a 404, not an empty page", async () => {
    const { user: erin, client, ids, page1 } = await threeConversations();
    expect(page1.nextCursor).toMatch(new RegExp(`^${ids[1]}\\.\\d+$`));
    await client.chat.conversations.delete.mutate({ id: ids[1]! });
    // The cursor carries its place: the oldest conversation comes next.
    expect(await client.chat.conversations.list.query({ limit: 2, cursor: page1.nextCursor! })).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    // The older form of cursor, the conversation's id alone, names a row that is gone.
    const stale = await trpcQuery(t.url, "chat.conversations.list", { limit: 2, cursor: ids[1] }, bearer(erin.token));
    expect(stale.status).toBe(404);
    expect(stale.body.error.message).toBe("The page cursor names a row that no longer exists; start again from the first page");
    expect(stale.body.error.data).toMatchObject({ appCode: "NOT_FOUND", field: "cursor" });
  });

  it("a full conversation refuses new messages with 413", async () => {
    const dave = await t.userWithRole("USER");
    const { conversationId } = await t.client(dave.token).chat.send.mutate({ message: "start" });
    await t.app.deps.db.prisma.message.createMany({
      data: Array.from({ length: CHAT_LIMITS.conversationMaxMessages - 2 }, (_, i) => ({ conversationId, role: "user", content: `m${i}` })),
    });
    const res = await trpcMutation(t.url, "chat.send", { message: "one more", conversationId }, bearer(dave.token));
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(/Conversation is full/);
  });
});

describe("bad input", () => {
  it("answers 400/413 with a clear reason, never 500, and costs no rate-limit point", async () => {
    const eve = await t.userWithRole("USER");
    const cases: Array<[unknown, number, RegExp]> = [
      [{ message: "hi", provider: "Not A Name!" }, 400, /A provider name is 1-63 lowercase/],
      [{ message: "hi", provider: "anthropic" }, 400, /Provider anthropic is not configured/],
      [{ message: "" }, 400, /Message is empty/],
      [{ message: "   \n " }, 400, /Message is empty/],
      [{ message: "x".repeat(CHAT_LIMITS.messageMaxChars + 1) }, 400, /Message is too long \(limit 32000 characters\)/],
      [{ message: "hi", provider: "deepseek" }, 400, /Provider deepseek is not configured/],
      [{ message: "hi", conversationId: "not-a-uuid" }, 400, /./],
      [{ message: "hi", temperature: 9 }, 400, /./],
      [{ message: "hi", maxTokens: 0 }, 400, /./],
      [{ message: 42 }, 400, /message must be a string/],
    ];
    for (const [input, status, reason] of cases) {
      const res = await trpcMutation(t.url, "chat.send", input, bearer(eve.token));
      expect(res.status, JSON.stringify(input).slice(0, 80)).toBe(status);
      const fieldErrors = Object.values(res.body.error.data.zodError?.fieldErrors ?? {}).flat();
      expect([res.body.error.message, ...fieldErrors].join(" | "), JSON.stringify(input).slice(0, 80)).toMatch(reason);
    }
    const huge = await trpcMutation(t.url, "chat.send", { message: "x".repeat(1_100_000) }, bearer(eve.token));
    expect(huge.status).toBe(413);
    // None of the above reached the rate limiter.
    for (let i = 0; i < RATE_LIMIT; i++) await t.client(eve.token).chat.send.mutate({ message: `ok ${i}` });
  });

  it("requires a signed-in user", async () => {
    expect((await trpcMutation(t.url, "chat.send", { message: "hi" })).status).toBe(401);
    expect((await trpcQuery(t.url, "chat.providers")).status).toBe(401);
  });
});

describe("rate limit", () => {
  it("allows CHAT_RATE_LIMIT_PER_MIN requests per user per minute, then 429 with Retry-After", async () => {
    const frank = await t.userWithRole("USER");
    for (let i = 0; i < RATE_LIMIT; i++) await t.client(frank.token).chat.send.mutate({ message: `msg ${i}` });
    const refused = await trpcMutation(t.url, "chat.send", { message: "one too many" }, bearer(frank.token));
    expect(refused.status).toBe(429);
    expect(refused.body.error.data.appCode).toBe("TOO_MANY_REQUESTS");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Streams and clarify draw from the same budget.
    const clarify = await t.client(frank.token).chat.clarify.mutate({ message: "vague" }).catch((e: unknown) => e);
    expect(errorCodeOf(clarify)).toBe("TOO_MANY_REQUESTS");
    // Per user: someone else is unaffected.
    const grace = await t.userWithRole("USER");
    await expect(t.client(grace.token).chat.send.mutate({ message: "hello" })).resolves.toMatchObject({ provider: "beta" });
  });
});

describe("circuit breaker", () => {
  it("opens after consecutive failures, skips the provider, then a probe after the cooldown closes it", async () => {
    const users = await Promise.all([t.userWithRole("USER"), t.userWithRole("USER")]);
    const [a, b] = users.map((u) => t.client(u.token));
    beta.setDefault({ kind: "status", status: 500 });
    await a!.chat.send.mutate({ message: "fail 1" });
    await a!.chat.send.mutate({ message: "fail 2" });
    const open = (await a!.chat.providers.query()).find((p) => p.id === "beta")!;
    expect(open.circuit).toMatchObject({ state: "open", consecutiveFailures: 2 });

    const skipped = await a!.chat.send.mutate({ message: "skipped" });
    expect(skipped.attempts.map((x) => [x.provider, x.outcome])).toEqual([["beta", "skipped_circuit_open"], ["template", "success"]]);
    expect(beta.requests).toHaveLength(2);

    // Wait out the cooldown (a wait, not an assertion on time), then one probe goes through.
    await new Promise((r) => setTimeout(r, Date.parse(open.circuit.retryAt!) - Date.now() + 20));
    beta.setDefault({ kind: "ok" });
    const probe = await b!.chat.send.mutate({ message: "probe" });
    expect(probe.provider).toBe("beta");
    expect((await b!.chat.providers.query()).find((p) => p.id === "beta")!.circuit).toEqual({ state: "closed", consecutiveFailures: 0, retryAt: null });
  });
});
