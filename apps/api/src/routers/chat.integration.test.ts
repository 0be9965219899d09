/**
 * chat.send / chat.stream / chat.clarify / chat.providers end to end: the typed client over
 * real HTTP to a real Switchboard (PostgreSQL + Redis), whose providers call local servers
 * speaking the OpenAI protocol with faults. Nothing is mocked.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHAT_LIMITS } from "@switchboard/schema";
import { errorCodeOf, TRPCClientError, type SwitchboardClient } from "@switchboard/client";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { collectStream, eventually, streamThenDisconnect, textOf } from "../../test/chat.ts";
import type { FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";

let t: TestApp;
let upstreams: Upstreams<"beta" | "openai">;
let beta: FakeOpenAIServer;
let openai: FakeOpenAIServer;
let user: { id: string; token: string };
let sb: SwitchboardClient;

beforeAll(async () => {
  upstreams = await startUpstreams(["beta", "openai"]);
  ({ beta, openai } = upstreams.fakes);
  t = await startTestApp({
    env: {
      ...upstreams.env,
      // Fault tests fail beta on purpose; keep its circuit out of the way here (see chat-limits).
      CIRCUIT_FAILURE_THRESHOLD: "1000",
      CHAT_RATE_LIMIT_PER_MIN: "1000",
      CHAT_STREAM_IDLE_TIMEOUT_MS: "300",
      PROVIDER_TIMEOUT_MS: "3000",
    },
  });
  user = await t.userWithRole("USER");
  sb = t.client(user.token);
});
afterAll(async () => {
  await t?.close();
  await upstreams?.close();
});
afterEach(() => upstreams.reset());

const messagesOf = (conversationId: string) => sb.chat.conversations.get.query({ id: conversationId }).then((c) => c.messages);

describe("chat.send", () => {
  it("answers from the first provider and stores the question and the reply", async () => {
    const result = await sb.chat.send.mutate({ message: "Hi there" });
    expect(result).toMatchObject({ content: "Hello from beta.", provider: "beta", model: "beta" });
    expect(result.usage).toEqual({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
    expect(result.attempts).toEqual([{ provider: "beta", model: "beta", outcome: "success", latencyMs: expect.any(Number) }]);
    expect(beta.requests[0]?.body.messages).toEqual([{ role: "user", content: "Hi there" }]);

    const [question, reply] = await messagesOf(result.conversationId);
    expect(question).toMatchObject({ role: "user", content: "Hi there", status: "complete" });
    expect(reply).toMatchObject({
      id: result.messageId, role: "assistant", content: "Hello from beta.", status: "complete",
      provider: "beta", model: "beta", promptTokens: 7, completionTokens: 3, attempts: result.attempts,
    });
    // Stored in UTC whatever the database's time zone (an offset would be hours off).
    expect(Math.abs(Date.parse(reply!.createdAt) - Date.now())).toBeLessThan(60_000);
    expect(Date.parse(reply!.createdAt)).toBeGreaterThan(Date.parse(question!.createdAt));
  });

  it("falls back to the next provider and reports every attempt", async () => {
    beta.enqueue({ kind: "status", status: 503 });
    const result = await sb.chat.send.mutate({ message: "Anyone?" });
    expect(result.provider).toBe("openai");
    expect(result.attempts.map((a) => [a.provider, a.outcome, a.status])).toEqual([
      ["beta", "http_error", 503],
      ["openai", "success", undefined],
    ]);
  });

  it("answers offline from the template when every upstream sends garbage", async () => {
    beta.setDefault({ kind: "malformed" });
    openai.setDefault({ kind: "cut", afterChunks: 0 });
    const result = await sb.chat.send.mutate({ message: "hello" });
    expect(result.provider).toBe("template");
    expect(result.content).toMatch(/offline/i);
    expect(result.attempts.map((a) => a.outcome)).toEqual(["malformed", "connection_error", "success"]);
  });

  it("sends earlier messages as context", async () => {
    const first = await sb.chat.send.mutate({ message: "My name is Ada." });
    await sb.chat.send.mutate({ message: "What is my name?", conversationId: first.conversationId });
    expect(beta.requests[1]?.body.messages).toEqual([
      { role: "user", content: "My name is Ada." },
      { role: "assistant", content: "Hello from beta." },
      { role: "user", content: "What is my name?" },
    ]);
  });

  it("a pinned provider that fails is a 502 with the attempts, and the failed reply is stored", async () => {
    beta.enqueue({ kind: "status", status: 500 });
    const res = await trpcMutation(t.url, "chat.send", { message: "pinned", provider: "beta" }, bearer(user.token));
    expect(res.status).toBe(502);
    expect(res.body.error.data.appCode).toBe("UPSTREAM_ERROR");
    expect(res.body.error.data.attempts).toEqual([expect.objectContaining({ provider: "beta", outcome: "http_error", status: 500 })]);
    expect(openai.requests).toHaveLength(0);
    const list = await sb.chat.conversations.list.query({ limit: 1 });
    const [question, reply] = await messagesOf(list.items[0]!.id);
    expect(question?.content).toBe("pinned");
    expect(reply).toMatchObject({ role: "assistant", status: "failed", content: "" });
  });
});

describe("chat.stream", () => {
  it("streams chat_start, deltas and chat_complete, and stores the reply before completing", async () => {
    openai.enqueue({ kind: "ok", content: "one two three four five" });
    const events = await collectStream(sb, { message: "count to five", provider: "openai" });
    expect(events[0]).toMatchObject({ type: "chat_start", provider: "openai", model: "gpt-4o-mini" });
    expect(events.filter((e) => e.type === "chat_delta").length).toBeGreaterThanOrEqual(5);
    expect(textOf(events)).toBe("one two three four five");
    const done = events.at(-1)!;
    expect(done).toMatchObject({
      type: "chat_complete", content: "one two three four five", provider: "openai", model: "gpt-4o-mini",
      usage: { promptTokens: 7, completionTokens: 5, totalTokens: 12 }, latencyMs: expect.any(Number),
    });
    if (done.type !== "chat_complete") return;
    const reply = (await messagesOf(done.conversationId))[1];
    expect(reply).toMatchObject({ id: done.messageId, status: "complete", content: "one two three four five" });
  });

  it("falls back before the first token", async () => {
    beta.enqueue({ kind: "malformed" });
    const events = await collectStream(sb, { message: "hi" });
    expect(events[0]).toMatchObject({ type: "chat_start", provider: "openai" });
    expect(events.at(-1)).toMatchObject({ type: "chat_complete", attempts: [expect.objectContaining({ outcome: "malformed" }), expect.objectContaining({ outcome: "success" })] });
  });

  it("a stream cut after tokens ends with an error event, and the partial reply is stored as incomplete", async () => {
    beta.enqueue({ kind: "cut", afterChunks: 2, content: "partial answer that never ends" });
    const events = await collectStream(sb, { message: "tell me" });
    expect(textOf(events)).toBe("partial answer ");
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: "error", code: "STREAM_INTERRUPTED" });
    expect(events.some((e) => e.type === "chat_complete")).toBe(false);
    expect(openai.requests).toHaveLength(0);
    if (last.type !== "error") return;
    const reply = (await messagesOf(last.conversationId!))[1];
    expect(reply).toMatchObject({ status: "incomplete", content: "partial answer ", provider: "beta" });
  });

  it("a stalled stream ends on the idle timeout and the upstream request is aborted", async () => {
    beta.enqueue({ kind: "stall", afterChunks: 1 });
    const events = await collectStream(sb, { message: "stall please" });
    expect(events.at(-1)).toMatchObject({ type: "error", code: "STREAM_IDLE_TIMEOUT" });
    await beta.waitForAbort(0);
  });

  it("a client that disconnects aborts the upstream request; what it saw is stored as incomplete", async () => {
    beta.enqueue({ kind: "ok", content: Array.from({ length: 500 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 10 });
    await streamThenDisconnect(t.url, user.token, { message: "long answer please" });
    const aborted = await beta.waitForAbort(0);
    expect(aborted.completed).toBe(false);
    const stored = await eventually(async () => {
      const convo = (await sb.chat.conversations.list.query({ limit: 1 })).items[0]!;
      const reply = (await messagesOf(convo.id))[1];
      return reply ? reply : undefined;
    }, "the abandoned reply to be stored");
    expect(stored.status).toBe("incomplete");
    expect(stored.content).toMatch(/^w0 /);
  });

  it("an emergency freeze ends in-flight streams with EMERGENCY_STOP and aborts their upstream calls", async () => {
    const root = t.client(await t.login());
    // A steady 10 s answer (a word every 50 ms, well inside the idle timeout): the freeze
    // lands while it streams, whatever the speed of this machine.
    beta.enqueue({ kind: "ok", content: Array.from({ length: 200 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 50 });
    const pending = collectStream(sb, { message: "about to be frozen" });
    await beta.waitForRequests(1);
    try {
      await root.emergency.freeze.mutate({ reason: "chat incident drill", scope: "chat" });
      const events = await pending;
      // A freeze without an expiry: the default wait, as the refusal's Retry-After says.
      expect(events.at(-1)).toMatchObject({ type: "error", code: "EMERGENCY_STOP", retryAfterSec: 30 });
      await beta.waitForAbort(0);
      const refused = await sb.chat.send.mutate({ message: "while frozen" }).catch((e: unknown) => e);
      expect(errorCodeOf(refused)).toBe("EMERGENCY_STOP");
    } finally {
      await root.emergency.unfreeze.mutate({ reason: "drill over" });
    }
  });
});

describe("provider freeze", () => {
  it("a provider:<id> freeze takes that provider out of the chain; chat keeps answering", async () => {
    const root = t.client(await t.login());
    await root.emergency.freeze.mutate({ reason: "beta misbehaving", scope: "provider:beta" });
    try {
      const result = await sb.chat.send.mutate({ message: "still there?" });
      expect(result.attempts.map((a) => [a.provider, a.outcome])).toEqual([["beta", "skipped_frozen"], ["openai", "success"]]);
      expect(beta.requests).toHaveLength(0);
      expect((await sb.chat.providers.query()).find((p) => p.id === "beta")?.frozen).toBe(true);
      // Every provider of the chain frozen: the freeze's own refusal, with its reason and when to retry.
      const pinned = await trpcMutation(t.url, "chat.send", { message: "beta only", provider: "beta" }, bearer(user.token));
      expect(pinned.status).toBe(503);
      expect(pinned.body.error.data).toMatchObject({ appCode: "EMERGENCY_STOP", reason: "beta misbehaving", scope: "provider:beta" });
      expect(Number(pinned.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await root.emergency.unfreeze.mutate({ reason: "beta fixed" });
    }
  });
});

describe("a provider frozen mid-call", () => {
  it("a call cut by a provider:<id> freeze, with nothing left to fall back on, answers the freeze's 503", async () => {
    const root = t.client(await t.login());
    let release!: () => void;
    beta.enqueue({ kind: "wait", until: new Promise<void>((resolve) => (release = resolve)) });
    const pending = trpcMutation(t.url, "chat.send", { message: "cut me off", provider: "beta" }, bearer(user.token));
    await beta.waitForRequests(1);
    try {
      await root.emergency.freeze.mutate({ reason: "beta mid-call", scope: "provider:beta" });
      const res = await pending;
      expect(res.status).toBe(503);
      expect(res.body.error.data).toMatchObject({ appCode: "EMERGENCY_STOP", reason: "beta mid-call" });
      expect(res.body.error.data.attempts).toEqual([expect.objectContaining({ provider: "beta", outcome: "aborted" })]);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      release();
      await root.emergency.unfreeze.mutate({ reason: "beta fixed" });
    }
  });
});

describe("chat.clarify", () => {
  it("asks the model for structured questions", async () => {
    beta.enqueue({ kind: "ok", content: JSON.stringify({ questions: ["For which audience?", "How long should it be?"] }) });
    const result = await sb.chat.clarify.mutate({ message: "write something about dogs" });
    expect(result).toMatchObject({ questions: ["For which audience?", "How long should it be?"], provider: "beta" });
    expect(beta.requests[0]?.body.response_format).toMatchObject({ type: "json_schema", json_schema: { name: "clarifying_questions" } });
  });

  it("moves on when a model answers without valid JSON, ending with the template", async () => {
    beta.enqueue({ kind: "ok", content: "Sure! Here are some questions: who?" });
    openai.enqueue({ kind: "ok", content: JSON.stringify({ questions: [] }) });
    const result = await sb.chat.clarify.mutate({ message: "make a script" });
    expect(result.provider).toBe("template");
    expect(result.questions.length).toBeGreaterThanOrEqual(1);
    expect(result.questions.length).toBeLessThanOrEqual(3);
    expect(result.attempts.map((a) => a.outcome)).toEqual(["malformed", "malformed", "success"]);
  });
});

describe("chat.providers", () => {
  it("lists every provider with model, active flag, order and circuit state", async () => {
    const providers = await sb.chat.providers.query();
    expect(providers.map((p) => [p.id, p.active, p.order])).toEqual([
      ["beta", true, 0], ["openai", true, 1], ["template", true, 2], ["deepseek", false, null], ["ollama", false, null],
    ]);
    expect(providers[0]).toMatchObject({ model: "beta", kind: "openai-compatible", circuit: { state: "closed" }, frozen: false, baseUrl: null });
    const admin = t.client((await t.userWithRole("ADMIN")).token);
    expect((await admin.chat.providers.query())[0]?.baseUrl).toBe(beta.url);
  });
});

describe("upstream rate limits", () => {
  // Last: it leaves beta in a Retry-After cooldown.
  it("a pinned provider inside its Retry-After window answers 429 with Retry-After", async () => {
    beta.enqueue({ kind: "status", status: 429, retryAfter: "30" });
    const first = await trpcMutation(t.url, "chat.send", { message: "pinned", provider: "beta" }, bearer(user.token));
    expect(first.status).toBe(429);
    expect(Number(first.headers.get("retry-after"))).toBeGreaterThan(25);
    const second = await sb.chat.send.mutate({ message: "again", provider: "beta" }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(TRPCClientError);
    expect(errorCodeOf(second)).toBe("TOO_MANY_REQUESTS");
    expect(beta.requests).toHaveLength(1);
    // A stream pinned to it ends at once with the wait upstream asked for.
    const streamed = await collectStream(sb, { message: "stream it", provider: "beta" });
    expect(streamed).toEqual([expect.objectContaining({ type: "error", code: "UPSTREAM_ERROR", retryAfterSec: expect.any(Number) })]);
    expect((streamed[0] as { retryAfterSec: number }).retryAfterSec).toBeGreaterThan(25);
    expect(beta.requests).toHaveLength(1);
    // Unpinned requests simply skip it.
    const auto = await sb.chat.send.mutate({ message: "auto" });
    expect(auto.attempts.map((a) => [a.provider, a.outcome])).toEqual([["beta", "skipped_rate_limited"], ["openai", "success"]]);
  });
});

describe("conversations one user may keep", () => {
  it("refuses a new conversation beyond CHAT_LIMITS.conversationsPerUser with 409 before any model is called; existing ones go on", async () => {
    const owner = await t.userWithRole("USER");
    const prisma = t.app.deps.db.prisma;
    await prisma.conversation.createMany({
      data: Array.from({ length: CHAT_LIMITS.conversationsPerUser - 1 }, (_, i) => ({ userId: owner.id, title: `kept ${i}` })),
    });
    const headers = bearer(owner.token);
    const last = await trpcMutation(t.url, "chat.send", { message: "the last place" }, headers);
    expect(last.status).toBe(200);
    const kept = last.body.result.data.conversationId as string;

    const upstreamCalls = beta.requests.length + openai.requests.length;
    const refused = await trpcMutation(t.url, "chat.send", { message: "one more" }, headers);
    expect(refused.status).toBe(409);
    expect(refused.body.error.data.appCode).toBe("CONFLICT");
    expect(refused.body.error.message).toMatch(/delete some/);
    expect(beta.requests.length + openai.requests.length).toBe(upstreamCalls);
    const imported = await trpcMutation(t.url, "chat.conversations.import", { messages: [{ role: "user", content: "from elsewhere" }] }, headers);
    expect(imported.status).toBe(409);
    expect(await prisma.conversation.count({ where: { userId: owner.id } })).toBe(CHAT_LIMITS.conversationsPerUser);

    // A conversation already kept goes on; deleting one makes room for a new one.
    expect((await trpcMutation(t.url, "chat.send", { message: "still here", conversationId: kept }, headers)).status).toBe(200);
    expect((await trpcMutation(t.url, "chat.conversations.delete", { id: kept }, headers)).status).toBe(200);
    expect((await trpcMutation(t.url, "chat.send", { message: "room again" }, headers)).status).toBe(200);
  });
});

describe("chat.conversations.get in pages", () => {
  it("hands out the newest messages first and older pages by cursor, every message once and in order", async () => {
    const messages = Array.from({ length: 7 }, (_, i) => ({ role: i % 2 === 0 ? ("user" as const) : ("assistant" as const), content: `message ${i}` }));
    const { id } = await sb.chat.conversations.import.mutate({ messages });

    const pages: string[][] = [];
    let before: string | undefined;
    for (;;) {
      const page = await sb.chat.conversations.get.query({ id, limit: 3, ...(before ? { before } : {}) });
      expect(page.messageCount).toBe(7);
      pages.push(page.messages.map((m) => m.content));
      if (page.olderCursor === null) break;
      expect(page.olderCursor).toBe(page.messages[0]!.id);
      before = page.olderCursor;
    }
    expect(pages).toEqual([
      ["message 4", "message 5", "message 6"],
      ["message 1", "message 2", "message 3"],
      ["message 0"],
    ]);

    // Without a limit: the whole conversation, as before paging existed.
    const whole = await sb.chat.conversations.get.query({ id });
    expect(whole.messages.map((m) => m.content)).toEqual(messages.map((m) => m.content));
    expect(whole.olderCursor).toBeNull();
    // A page that holds exactly what is left has no older cursor.
    expect((await sb.chat.conversations.get.query({ id, limit: 7 })).olderCursor).toBeNull();
  });

  it("pages messages stored at the same instant by id, each once", async () => {
    const { id } = await sb.chat.conversations.import.mutate({ messages: Array.from({ length: 5 }, (_, i) => ({ role: "user" as const, content: `same instant ${i}` })) });
    await t.app.deps.db.prisma.message.updateMany({ where: { conversationId: id }, data: { createdAt: new Date("2026-01-01T00:00:00.000Z") } });
    const whole = (await sb.chat.conversations.get.query({ id })).messages.map((m) => m.id);
    const paged: string[] = [];
    let before: string | undefined;
    do {
      const page = await sb.chat.conversations.get.query({ id, limit: 2, ...(before ? { before } : {}) });
      paged.unshift(...page.messages.map((m) => m.id));
      before = page.olderCursor ?? undefined;
    } while (before);
    expect(paged).toEqual(whole);
    expect(new Set(paged).size).toBe(5);
  });

  it("refuses a cursor from another conversation and a limit out of range; another user's conversation is not found", async () => {
    const { id } = await sb.chat.conversations.import.mutate({ messages: [{ role: "user", content: "mine" }] });
    const other = await sb.chat.conversations.import.mutate({ messages: [{ role: "user", content: "elsewhere" }] });
    const foreign = (await sb.chat.conversations.get.query({ id: other.id })).messages[0]!.id;
    const headers = bearer(user.token);
    const get = (input: unknown) => trpcQuery(t.url, "chat.conversations.get", input, headers);

    const wrongCursor = await get({ id, limit: 5, before: foreign });
    expect(wrongCursor.status).toBe(400);
    expect(wrongCursor.body.error.message).toMatch(/before/);
    expect((await get({ id, limit: 0 })).status).toBe(400);
    expect((await get({ id, limit: CHAT_LIMITS.conversationMaxMessages + 1 })).status).toBe(400);
    expect((await get({ id, before: "not-an-id" })).status).toBe(400);

    const stranger = await t.userWithRole("USER");
    expect((await trpcQuery(t.url, "chat.conversations.get", { id, limit: 5 }, bearer(stranger.token))).status).toBe(404);
  });
});
