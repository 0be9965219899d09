/**
 * /ws/chat as the streaming backend's clients use it, driven by the `ws` package against a
 * real server and a fake upstream: streaming, ping, several chats per socket, a freeze, a
 * client leaving mid-answer, the caps, and every kind of bad frame. Also tRPC over WS.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createSwitchboardClient } from "@switchboard/client";
import type { TChatStreamEvent } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { collectEvents } from "../../../test/subscription.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";

const SOCKETS_PER_USER = 2;
const MESSAGES_PER_MIN = 25;

let t: TestApp;
let beta: FakeOpenAIServer;
let root: string;

type Message = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire

interface Client {
  ws: WebSocket;
  messages: Message[];
  /** Resolves with the first message (from the start) matching `pred` that was not taken yet. */
  next(pred?: (m: Message) => boolean): Promise<Message>;
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
}

function connect(opts: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<Client> {
  const ws = new WebSocket(`${t.url.replace(/^http/, "ws")}/ws/chat`, opts.protocols ?? [], { headers: opts.headers });
  const messages: Message[] = [];
  const taken = new Set<number>();
  const waiters: Array<() => void> = [];
  ws.on("message", (data) => {
    messages.push(JSON.parse(data.toString()) as Message);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters.splice(0)) w();
    }),
  );
  const next = (pred: (m: Message) => boolean = () => true) =>
    new Promise<Message>((resolve, reject) => {
      const look = () => {
        const i = messages.findIndex((m, idx) => !taken.has(idx) && pred(m));
        if (i >= 0) {
          taken.add(i);
          return resolve(messages[i]!);
        }
        if (ws.readyState === ws.CLOSED) return reject(new Error(`socket closed; got ${JSON.stringify(messages)}`));
        waiters.push(look);
      };
      look();
    });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, messages, next, closed, send: (m) => ws.send(typeof m === "string" ? m : JSON.stringify(m)) }));
    ws.once("unexpected-response", (req, res) => {
      // With this listener, ws leaves the refused request to us.
      req.destroy();
      reject(new Error(`upgrade refused: ${res.statusCode}`));
    });
    ws.once("error", reject);
  });
}

/** A socket signed in with a `bearer.<token>` subprotocol. */
async function signedIn(token: string): Promise<Client> {
  const c = await connect({ protocols: ["switchboard", `bearer.${token}`] });
  expect(c.ws.protocol).toBe("switchboard");
  expect(await c.next()).toMatchObject({ type: "auth_ok" });
  return c;
}

const isEnd = (m: Message) => m.type === "chat_complete" || m.type === "error";

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  t = await startTestApp({
    env: {
      BETA_MODEL_BASE_URL: beta.url,
      PROVIDER_ORDER: "beta,template",
      WS_SOCKETS_PER_USER: String(SOCKETS_PER_USER),
      WS_MESSAGES_PER_MIN: String(MESSAGES_PER_MIN),
      STREAMS_PER_USER: "3",
      CORS_ORIGINS: "https://admin.example",
    },
  });
  root = await t.login();
});
afterAll(async () => {
  await t?.close();
  await beta?.close();
});
afterEach(() => beta.setDefault({ kind: "ok" }));

describe("streaming", () => {
  it("chat → chat_start, chat_delta {content}…, chat_complete {usage, finishReason}; the conversation continues", async () => {
    const user = await t.userWithRole("USER");
    beta.setDefault({ kind: "ok", content: "streamed over a socket" });
    const c = await signedIn(user.token);
    c.send({ type: "chat", message: "hello socket" });
    const start = await c.next((m) => m.type === "chat_start");
    expect(start).toMatchObject({ conversationId: expect.any(String), provider: "beta" });
    const end = await c.next(isEnd);
    expect(end).toMatchObject({
      type: "chat_complete",
      finishReason: "stop",
      content: "streamed over a socket",
      usage: { promptTokens: expect.any(Number), completionTokens: expect.any(Number), totalTokens: expect.any(Number) },
    });
    expect(c.messages.filter((m) => m.type === "chat_delta").map((m) => m.content).join("")).toBe("streamed over a socket");

    c.send({ type: "chat", message: "and more", conversationId: start.conversationId, model: "beta-xl" });
    expect(await c.next(isEnd)).toMatchObject({ type: "chat_complete", conversationId: start.conversationId });
    expect(beta.requests.at(-1)!.body.model).toBe("beta-xl");
    expect(beta.requests.at(-1)!.body.messages!.map((m) => m.content)).toEqual(["hello socket", "streamed over a socket", "and more"]);
    c.ws.close();
  });

  it("ping → pong, before and after signing in", async () => {
    const user = await t.userWithRole("USER");
    const c = await connect();
    c.send({ type: "ping" });
    expect(await c.next()).toEqual({ type: "pong" });
    c.send({ type: "auth", token: user.token });
    expect(await c.next()).toMatchObject({ type: "auth_ok", user: { id: user.id, role: "USER" } });
    c.send({ type: "ping", id: 7 });
    expect(await c.next()).toEqual({ type: "pong", id: 7 });
    c.ws.close();
  });

  it("a token as the first message, or the Authorization header; chat before signing in is refused", async () => {
    const user = await t.userWithRole("USER");
    const c = await connect();
    c.send({ type: "chat", message: "too early" });
    expect(await c.next()).toMatchObject({ type: "error", code: "UNAUTHORIZED" });
    c.send({ type: "auth", token: user.token });
    await c.next((m) => m.type === "auth_ok");
    c.send({ type: "chat", message: "now" });
    expect(await c.next(isEnd)).toMatchObject({ type: "chat_complete" });
    c.ws.close();

    const h = await connect({ headers: { authorization: `Bearer ${user.token}` } });
    expect(await h.next()).toMatchObject({ type: "auth_ok" });
    h.ws.close();
  });

  it("runs several chats at once on one socket, each event tagged with its chat's id", async () => {
    const user = await t.userWithRole("USER");
    beta.setDefault(({ body }) => ({ kind: "ok", content: `answer to ${body.messages!.at(-1)!.content}`, chunkDelayMs: 5 }));
    const c = await signedIn(user.token);
    c.send({ type: "chat", id: "a", message: "first" });
    c.send({ type: "chat", id: "b", message: "second" });
    const [a, b] = await Promise.all([c.next((m) => isEnd(m) && m.id === "a"), c.next((m) => isEnd(m) && m.id === "b")]);
    expect(a).toMatchObject({ type: "chat_complete", content: "answer to first" });
    expect(b).toMatchObject({ type: "chat_complete", content: "answer to second" });
    expect(a.conversationId).not.toBe(b.conversationId);
    for (const id of ["a", "b"]) {
      expect(c.messages.filter((m) => m.id === id && m.type === "chat_delta").map((m) => m.content).join("")).toBe(`answer to ${id === "a" ? "first" : "second"}`);
    }
    c.ws.close();
  });
});

describe("freeze and disconnect", () => {
  it("a freeze ends the in-flight answer with error EMERGENCY_STOP and aborts the upstream call; new sockets get 503", async () => {
    const user = await t.userWithRole("USER");
    beta.setDefault({ kind: "stall", afterChunks: 1, content: "this will never finish" });
    const c = await signedIn(user.token);
    const before = beta.requests.length;
    c.send({ type: "chat", message: "long answer please" });
    await c.next((m) => m.type === "chat_delta");
    const admin = t.client(root);
    await admin.emergency.freeze.mutate({ reason: "socket drill" });
    try {
      expect(await c.next(isEnd)).toMatchObject({ type: "error", code: "EMERGENCY_STOP" });
      expect((await beta.waitForAbort(before)).aborted).toBe(true);
      c.send({ type: "chat", message: "while frozen" });
      expect(await c.next(isEnd)).toMatchObject({ type: "error", code: "EMERGENCY_STOP" });
      await expect(connect({ protocols: [`bearer.${user.token}`] })).rejects.toThrow(/503/);
    } finally {
      await admin.emergency.unfreeze.mutate({ reason: "drill over" });
    }
    beta.setDefault({ kind: "ok" });
    c.send({ type: "chat", message: "after" });
    expect(await c.next(isEnd)).toMatchObject({ type: "chat_complete" });
    c.ws.close();
  });

  it("closing the socket aborts its upstream calls", async () => {
    const user = await t.userWithRole("USER");
    beta.setDefault({ kind: "stall", afterChunks: 1 });
    const c = await signedIn(user.token);
    const before = beta.requests.length;
    c.send({ type: "chat", id: "x", message: "one" });
    c.send({ type: "chat", id: "y", message: "two" });
    await c.next((m) => m.type === "chat_delta" && m.id === "x");
    await c.next((m) => m.type === "chat_delta" && m.id === "y");
    c.ws.terminate();
    const aborted = await Promise.all([beta.waitForAbort(before), beta.waitForAbort(before + 1)]);
    expect(aborted.map((r) => r.aborted)).toEqual([true, true]);
  });

  it("frames still waiting behind a slow one when the socket closes start nothing", async () => {
    const user = await t.userWithRole("USER");
    beta.setDefault({ kind: "stall", afterChunks: 1 });
    const c = await signedIn(user.token);
    const before = beta.requests.length;
    const slotsBefore = t.app.deps.streams.open();
    // WebSockets open on the server (ours included), as an admin reads them.
    const openSockets = async () => ((await (await fetch(`${t.url}/api/stats`, { headers: { authorization: `Bearer ${root}` } })).json()) as { activeWebSockets: number }).activeWebSockets;
    const socketsBefore = (await openSockets()) - 1;
    // A second sign-in with an API key waits on its database lookup (the key table locked
    // here, as a slow database would), with two chats queued behind it; then the client goes.
    let unlock!: () => void;
    const locked = new Promise<void>((resolve) => (unlock = resolve));
    let isLocked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (isLocked = resolve));
    const lock = t.app.deps.db.prisma.$transaction(
      async (tx) => {
        await tx.$executeRawUnsafe('LOCK TABLE "ApiKey" IN ACCESS EXCLUSIVE MODE');
        isLocked();
        await locked;
      },
      { timeout: 30_000 },
    );
    await lockTaken;
    c.send({ type: "auth", token: `sb-${"A".repeat(43)}` });
    c.send({ type: "chat", id: "a", message: "one" });
    c.send({ type: "chat", id: "b", message: "two" });
    c.ws.terminate();
    // The server sees the close while the lookup still waits: its socket count drops.
    await expect.poll(openSockets).toBe(socketsBefore);
    unlock();
    await lock;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect.poll(() => beta.requests.slice(before).filter((r) => !r.aborted).length, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => t.app.deps.streams.open(), { timeout: 5_000 }).toBe(slotsBefore);
  });
});

describe("caps", () => {
  it(`allows ${SOCKETS_PER_USER} sockets per user; one more gets an error and a 1008 close; a closed one frees its place`, async () => {
    const user = await t.userWithRole("USER");
    const open = [await signedIn(user.token), await signedIn(user.token)];
    const extra = await connect({ protocols: [`bearer.${user.token}`] });
    expect(await extra.next()).toMatchObject({ type: "error", code: "TOO_MANY_REQUESTS" });
    expect((await extra.closed).code).toBe(1008);
    // Another user is not affected.
    const other = await signedIn((await t.userWithRole("USER")).token);
    other.ws.close();
    open[0]!.ws.close();
    await open[0]!.closed;
    const again = await connect({ protocols: [`bearer.${user.token}`] });
    expect(await again.next()).toMatchObject({ type: "auth_ok" });
    again.ws.close();
    open[1]!.ws.close();
  });

  it(`caps messages at ${MESSAGES_PER_MIN} per user per minute: errors with retryAfterSec, then a 1008 close`, async () => {
    const user = await t.userWithRole("USER");
    const c = await signedIn(user.token);
    for (let i = 0; i < MESSAGES_PER_MIN + 3; i++) c.send({ type: "ping" });
    const { code } = await c.closed;
    expect(code).toBe(1008);
    expect(c.messages.filter((m) => m.type === "pong")).toHaveLength(MESSAGES_PER_MIN);
    const refusals = c.messages.filter((m) => m.type === "error");
    expect(refusals).toHaveLength(3);
    expect(refusals[0]).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterSec: expect.any(Number) });
  });

  it("running chats hold STREAMS_PER_USER slots across sockets; a finished one frees its slot", async () => {
    const user = await t.userWithRole("USER");
    beta.setDefault({ kind: "stall", afterChunks: 1 });
    const [a, b] = [await signedIn(user.token), await signedIn(user.token)];
    a.send({ type: "chat", id: 1, message: "one" });
    a.send({ type: "chat", id: 2, message: "two" });
    b.send({ type: "chat", id: 3, message: "three" });
    for (const [c, id] of [[a, "1"], [a, "2"], [b, "3"]] as const) await c.next((m) => m.type === "chat_delta" && m.id === id);
    b.send({ type: "chat", id: 4, message: "four" });
    expect(await b.next((m) => m.id === "4")).toMatchObject({ type: "error", code: "TOO_MANY_REQUESTS", retryAfterSec: expect.any(Number) });
    a.ws.terminate();
    beta.setDefault({ kind: "ok" });
    // The server frees a's slots once its chats have wound down; ask until it has.
    let end: Message;
    for (let i = 0; ; i++) {
      b.send({ type: "chat", id: `5-${i}`, message: "five" });
      end = await b.next((m) => isEnd(m) && m.id === `5-${i}`);
      if (end.code !== "TOO_MANY_REQUESTS" || i > 100) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(end).toMatchObject({ type: "chat_complete" });
    b.ws.terminate();
  });

  it("per-user chat rate limits and validation are the chat procedure's", async () => {
    const user = await t.userWithRole("USER");
    const c = await signedIn(user.token);
    c.send({ type: "chat", message: "" });
    expect(await c.next()).toMatchObject({ type: "error", code: "BAD_REQUEST" });
    c.send({ type: "chat", message: "hi", conversationId: crypto.randomUUID() });
    expect(await c.next()).toMatchObject({ type: "error", code: "NOT_FOUND" });
    c.ws.close();
  });
});

describe("bad input never crashes the socket or the server", () => {
  it.each([
    ["malformed JSON", "{not json"],
    ["a JSON array", "[1,2,3]"],
    ["no type", JSON.stringify({ message: "hi" })],
    ["an unknown type", JSON.stringify({ type: "subscribe", channel: "all" })],
  ])("%s → an error message; three strikes → 1008", async (_name, frame) => {
    const user = await t.userWithRole("USER");
    const c = await signedIn(user.token);
    c.send(frame);
    expect(await c.next()).toMatchObject({ type: "error", code: "BAD_REQUEST", message: expect.any(String) });
    c.send({ type: "ping" });
    expect(await c.next()).toEqual({ type: "pong" });
    c.send(frame);
    c.send(frame);
    expect((await c.closed).code).toBe(1008);
  });

  it("binary garbage is a bad frame too", async () => {
    const c = await signedIn((await t.userWithRole("USER")).token);
    c.ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    expect(await c.next()).toMatchObject({ type: "error", code: "BAD_REQUEST" });
    c.ws.close();
  });

  it("a frame nested deeper than any input may be (a ping whose id is 5 000 arrays deep) is a bad frame, not silence", async () => {
    const c = await signedIn((await t.userWithRole("USER")).token);
    c.send(`{"type":"ping","id":${"[".repeat(5_000)}${"]".repeat(5_000)}}`);
    expect(await c.next()).toMatchObject({ type: "error", code: "BAD_REQUEST", message: expect.stringMatching(/nested more than 128 levels/) });
    // The socket still answers.
    c.send({ type: "ping", id: 1 });
    expect(await c.next()).toEqual({ type: "pong", id: 1 });
    c.ws.close();
  });

  it("a frame over 1 MB → error PAYLOAD_TOO_LARGE and a 1009 close", async () => {
    const c = await signedIn((await t.userWithRole("USER")).token);
    c.send({ type: "chat", message: "x".repeat(1024 * 1024 + 10) });
    expect(await c.next()).toMatchObject({ type: "error", code: "PAYLOAD_TOO_LARGE" });
    expect((await c.closed).code).toBe(1009);
    // The server is fine.
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });

  it("a bad token → error UNAUTHORIZED and 1008; an auth message without a token string → error", async () => {
    const c = await connect({ protocols: ["switchboard", "bearer.not-a-token"] });
    expect(await c.next()).toMatchObject({ type: "error", code: "UNAUTHORIZED" });
    expect((await c.closed).code).toBe(1008);
    const m = await connect();
    m.send({ type: "auth", token: 42 });
    expect(await m.next()).toMatchObject({ type: "error", code: "BAD_REQUEST" });
    m.ws.close();
  });

  it("the session cookie works from the server's own origin or CORS_ORIGINS, and is refused from elsewhere", async () => {
    const user = await t.userWithRole("USER");
    const cookie = `sb_access=${user.token}`;
    const host = new URL(t.url).host;
    for (const origin of [`http://${host}`, "https://admin.example"]) {
      const ok = await connect({ headers: { cookie, origin } });
      expect(await ok.next(), origin).toMatchObject({ type: "auth_ok" });
      ok.ws.close();
      await ok.closed;
    }
    const evil = await connect({ headers: { cookie, origin: "https://evil.example" } });
    expect(await evil.next()).toMatchObject({ type: "error", code: "FORBIDDEN" });
    expect((await evil.closed).code).toBe(1008);
  });

  it("a plain GET of /ws/chat is a JSON 426, not a page", async () => {
    const res = await fetch(`${t.url}/ws/chat`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(426);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UPGRADE_REQUIRED");
  });
});

describe("tRPC over WebSocket", () => {
  it("the typed client streams chat.stream over a socket at /trpc", async () => {
    const user = await t.userWithRole("USER");
    beta.setDefault({ kind: "ok", content: "typed and socketed" });
    const client = createSwitchboardClient({ url: t.url, token: user.token, transport: "websocket", WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
    const events = await collectEvents<TChatStreamEvent>(
      (handlers) => client.chat.stream.subscribe({ message: "over trpc ws" }, handlers),
      (e) => e.type === "chat_complete" || e.type === "error",
    );
    expect(events[0]).toMatchObject({ type: "chat_start" });
    expect(events.at(-1)).toMatchObject({ type: "chat_complete", content: "typed and socketed" });
    // Queries and mutations keep using HTTP.
    expect((await client.auth.me.query()).id).toBe(user.id);
  });

  it("without a token, a subscription that needs a user is refused", async () => {
    const client = createSwitchboardClient({ url: t.url, transport: "websocket", WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
    await expect(
      collectEvents<TChatStreamEvent>((handlers) => client.chat.stream.subscribe({ message: "anonymous" }, handlers), () => true),
    ).rejects.toThrow(/Sign in first/);
  });
});
