/**
 * A conversation deleted while a turn into it is under way, at each step of the turn: before
 * the user's message is stored, between it and the reply, and while the reply is stored. The
 * caller gets the answer, never a 500, and neither message is kept nor anything re-created. A real server on real PostgreSQL; the steps are held open with a local upstream
 * that waits and with a row lock taken on a connection of the test's own, which also deletes
 * the conversation at the exact moment (the same cascade conversations.delete runs).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { SwitchboardClient } from "@switchboard/client";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { collectStream, eventually, socketChat } from "../../../test/chat.ts";
import { untilLockWaiters } from "../../../test/database.ts";
import type { FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { bearer, trpcMutation } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let t: TestApp;
let upstreams: Upstreams<"beta">;
let beta: FakeOpenAIServer;
let user: { id: string; token: string };
let sb: SwitchboardClient;
let db: pg.Client;

beforeAll(async () => {
  upstreams = await startUpstreams(["beta"]);
  beta = upstreams.fakes.beta;
  t = await startTestApp({ env: { ...upstreams.env, CHAT_RATE_LIMIT_PER_MIN: "1000", PROVIDER_TIMEOUT_MS: "5000" } });
  user = await t.userWithRole("USER");
  sb = t.client(user.token);
  db = new pg.Client({ connectionString: t.app.deps.env.DATABASE_URL! });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await t?.close();
  await upstreams?.close();
});
afterEach(() => upstreams.reset());

/** A conversation with one finished turn in it. */
async function conversation(): Promise<string> {
  return (await sb.chat.send.mutate({ message: "first" })).conversationId;
}

const rowsOf = async (id: string) => {
  const { rows } = await db.query<{ conversations: number; messages: number }>(
    `SELECT (SELECT count(*)::int FROM "Conversation" WHERE id = $1) AS conversations, (SELECT count(*)::int FROM "Message" WHERE "conversationId" = $1) AS messages`,
    [id],
  );
  return rows[0]!;
};

/** Holds the upstream's next answer until the returned release is called. */
function holdAnswer(): () => void {
  let release!: () => void;
  beta.enqueue({ kind: "wait", until: new Promise<void>((resolve) => (release = resolve)) });
  return release;
}

/**
 * Locks the conversation's row, so the server's next write naming it (a message's foreign key,
 * the reply's bump of last activity) waits; `deleteWhenWaited` deletes the row once a server
 * statement waits on the lock and commits, so that statement resumes on a conversation gone.
 */
async function lockConversation(id: string) {
  await db.query("BEGIN");
  await db.query(`SELECT 1 FROM "Conversation" WHERE id = $1 FOR UPDATE`, [id]);
  return {
    async deleteWhenWaited() {
      // Polled from this transaction: untilLockWaiters sees past its pg_stat_activity snapshot.
      await untilLockWaiters(db, 1);
      await db.query(`DELETE FROM "Conversation" WHERE id = $1`, [id]);
      await db.query("COMMIT");
    },
  };
}

async function deleteThroughApi(id: string) {
  await sb.chat.conversations.delete.mutate({ id });
}

/** Waits until the second user message of `id` (the turn under way) is stored. */
const userMessageStored = (id: string) => eventually(async () => ((await rowsOf(id)).messages === 3 ? true : undefined), "the user's message stored");

describe("chat.send into a conversation deleted mid-turn", () => {
  it("deleted before the user's message is stored: the answer, nothing re-created", async () => {
    const id = await conversation();
    const lock = await lockConversation(id);
    const sent = trpcMutation(t.url, "chat.send", { conversationId: id, message: "second" }, bearer(user.token));
    await lock.deleteWhenWaited();
    const res = await sent;
    expect(res.status).toBe(200);
    expect(res.body.result.data.content).toBe("Hello from beta.");
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });

  it("deleted while the model answers: the answer, the reply dropped", async () => {
    const id = await conversation();
    const release = holdAnswer();
    const sent = trpcMutation(t.url, "chat.send", { conversationId: id, message: "second" }, bearer(user.token));
    await userMessageStored(id);
    await deleteThroughApi(id);
    release();
    const res = await sent;
    expect(res.status).toBe(200);
    expect(res.body.result.data.content).toBe("Hello from beta.");
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });

  it("deleted while the reply is stored: the answer, the reply dropped", async () => {
    const id = await conversation();
    const release = holdAnswer();
    const sent = trpcMutation(t.url, "chat.send", { conversationId: id, message: "second" }, bearer(user.token));
    await userMessageStored(id);
    const lock = await lockConversation(id);
    release();
    await lock.deleteWhenWaited();
    const res = await sent;
    expect(res.status).toBe(200);
    expect(res.body.result.data.content).toBe("Hello from beta.");
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });
});

describe("chat.stream into a conversation deleted mid-turn", () => {
  it("deleted before the user's message is stored: the whole answer, nothing re-created", async () => {
    const id = await conversation();
    const lock = await lockConversation(id);
    const events = collectStream(sb, { conversationId: id, message: "second" });
    await lock.deleteWhenWaited();
    expect((await events).at(-1)).toMatchObject({ type: "chat_complete", conversationId: id, content: "Hello from beta." });
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });

  it("deleted while streaming: the whole answer, the reply dropped", async () => {
    const id = await conversation();
    const release = holdAnswer();
    const events = collectStream(sb, { conversationId: id, message: "second" });
    await userMessageStored(id);
    await deleteThroughApi(id);
    release();
    expect((await events).at(-1)).toMatchObject({ type: "chat_complete", content: "Hello from beta." });
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });

  it("deleted while the reply is stored: the whole answer, the reply dropped", async () => {
    const id = await conversation();
    const release = holdAnswer();
    const events = collectStream(sb, { conversationId: id, message: "second" });
    await userMessageStored(id);
    const lock = await lockConversation(id);
    release();
    await lock.deleteWhenWaited();
    expect((await events).at(-1)).toMatchObject({ type: "chat_complete", content: "Hello from beta." });
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });
});

describe("a /ws/chat turn into a conversation deleted mid-turn", () => {
  it("deleted before the user's message is stored: the whole answer", async () => {
    const id = await conversation();
    const lock = await lockConversation(id);
    const messages = socketChat(t.url, user.token, { conversationId: id, message: "second" });
    await lock.deleteWhenWaited();
    expect((await messages).at(-1)).toMatchObject({ type: "chat_complete", content: "Hello from beta." });
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });

  it("deleted while the reply is stored: the whole answer, the reply dropped", async () => {
    const id = await conversation();
    const release = holdAnswer();
    const messages = socketChat(t.url, user.token, { conversationId: id, message: "second" });
    await userMessageStored(id);
    const lock = await lockConversation(id);
    release();
    await lock.deleteWhenWaited();
    expect((await messages).at(-1)).toMatchObject({ type: "chat_complete", content: "Hello from beta." });
    expect(await rowsOf(id)).toEqual({ conversations: 0, messages: 0 });
  });
});
