/**
 * An idle signed-in WebSocket — tRPC's at /trpc, and /ws/chat — is closed with 1008 "Token
 * expired" when its token expires, without waiting for its next call: an access token at its
 * `exp`, an API key at its `expiresAt`. A key without expiry keeps its sockets open. A fresh
 * token sent on an open /ws/chat socket moves the close to the fresh token's expiry; a stream
 * running at the expiry is not cut short, the socket closes after it. Real
 * server with a short access-token lifetime, real `ws` clients; nothing is called on the
 * sockets while they wait for their expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer } from "../../../test/http.ts";
import { openTrpcSocket, type RawTrpcSocket, type SocketClose } from "../../../test/trpc-socket.ts";
import { TOKEN_EXPIRED_CLOSE, TOKEN_EXPIRED_MESSAGE } from "./socket-auth.ts";

const TTL_SEC = 5;
/** Past the token's expiry, well above any scheduling delay. */
const GRACE_MS = 5_000;

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ env: { ACCESS_TOKEN_TTL_SEC: String(TTL_SEC) } });
});
afterAll(async () => t?.close());

const expiredClose: SocketClose = { ...TOKEN_EXPIRED_CLOSE };

/** `promise`, or a failure once `deadlineMs` (epoch ms) has passed. */
function by<T>(promise: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not by ${new Date(deadlineMs).toISOString()}`)), Math.max(0, deadlineMs - Date.now()));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const sleepUntil = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));

/** The access token's `exp`, in epoch ms (read from its payload, as a client would). */
function expiryOf(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number; iat: number };
  return payload.exp * 1000;
}
function issuedAtOf(token: string): number {
  return (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { iat: number }).iat * 1000;
}

/** A tRPC socket signed in the typed client's way (connectionParams), one call made, then idle. */
async function idleTrpcSocket(token: string): Promise<RawTrpcSocket> {
  const socket = await openTrpcSocket(t.url, { token });
  const reply = await socket.call(1, "query", "auth.me");
  expect(reply.result?.type, JSON.stringify(reply)).toBe("data");
  return socket;
}

interface ChatSocket {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: Promise<SocketClose>;
  /** Sends `message` and resolves with the first reply of `type` after it. */
  ask(message: Record<string, unknown>, type: string): Promise<Record<string, unknown>>;
}

/** A /ws/chat socket signed in with `token` on the upgrade (auth_ok received), then idle. */
async function idleChatSocket(token: string): Promise<ChatSocket> {
  const ws = new WebSocket(`${t.url.replace(/^http/, "ws")}/ws/chat`, { headers: bearer(token) });
  const messages: Array<Record<string, unknown>> = [];
  const waiting = new Set<() => void>();
  ws.on("message", (data) => {
    messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
    for (const look of waiting) look();
  });
  const closed = new Promise<SocketClose>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  const next = (type: string, after: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const look = () => {
        const found = messages.slice(after).find((m) => m["type"] === type);
        if (!found) return;
        waiting.delete(look);
        resolve(found);
      };
      waiting.add(look);
      look();
      void closed.then((c) => waiting.delete(look) && reject(new Error(`closed (${c.code} ${c.reason}) before ${type}; got ${JSON.stringify(messages)}`)));
    });
  await next("auth_ok", 0);
  return {
    ws,
    messages,
    closed,
    ask(message, type) {
      const reply = next(type, messages.length);
      ws.send(JSON.stringify(message));
      return reply;
    },
  };
}

/** The /ws/chat socket was told its token expired, then closed with 1008 "Token expired". */
async function chatExpired(socket: ChatSocket, deadlineMs: number): Promise<void> {
  expect(await by(socket.closed, deadlineMs, "the /ws/chat close")).toEqual(expiredClose);
  expect(socket.messages.at(-1)).toEqual({ type: "error", code: "UNAUTHORIZED", message: TOKEN_EXPIRED_MESSAGE });
}

describe("an idle signed-in WebSocket whose token expires", () => {
  it("is closed at its access token's expiry with 1008 \"Token expired\"; sockets opened with a key without expiry stay open", async () => {
    const keyHolder = await t.userWithRole("USER");
    const key = await t.client(keyHolder.token).keys.create.mutate({ name: "no expiry" });
    const keyTrpc = await idleTrpcSocket(key.key);
    const keyChat = await idleChatSocket(key.key);
    const user = await t.userWithRole("USER");
    const trpc = await idleTrpcSocket(user.token);
    const chat = await idleChatSocket(user.token);

    const deadline = expiryOf(user.token) + GRACE_MS;
    expect(await by(trpc.closed, deadline, "the tRPC socket's close")).toEqual(expiredClose);
    await chatExpired(chat, deadline);

    // Past the access tokens' expiry (the key holder's own too), the key's sockets still act.
    expect((await keyTrpc.call(2, "query", "auth.me")).result?.type).toBe("data");
    expect(await keyChat.ask({ type: "ping" }, "pong")).toEqual({ type: "pong" });
    expect(keyTrpc.ws.readyState).toBe(WebSocket.OPEN);
    expect(keyChat.ws.readyState).toBe(WebSocket.OPEN);
    await keyTrpc.close();
    keyChat.ws.close();
  });

  it("opened with an API key that has an expiresAt, is closed then", async () => {
    const holder = await t.userWithRole("USER");
    const expiresAt = Date.now() + 2_000;
    const key = await t.client(holder.token).keys.create.mutate({ name: "short-lived", expiresAt: new Date(expiresAt).toISOString() });
    const trpc = await idleTrpcSocket(key.key);
    const chat = await idleChatSocket(key.key);

    const deadline = expiresAt + GRACE_MS;
    expect(await by(trpc.closed, deadline, "the tRPC socket's close")).toEqual(expiredClose);
    await chatExpired(chat, deadline);
  });

  it("on /ws/chat, a fresh token sent as {type:\"auth\"} keeps the socket open past the old token's expiry, until its own", async () => {
    const user = await t.userWithRole("USER");
    const chat = await idleChatSocket(user.token);
    const oldExpiry = expiryOf(user.token);

    // A token issued at least a second later expires at least a second later (exp counts seconds).
    await sleepUntil(issuedAtOf(user.token) + 1_000);
    const fresh = (await t.client().auth.login.mutate({ email: user.email, password: user.password })).accessToken;
    expect(expiryOf(fresh)).toBeGreaterThan(oldExpiry);
    const ok = await chat.ask({ type: "auth", token: fresh }, "auth_ok");
    expect(ok["user"]).toMatchObject({ id: user.id });
    expect(Date.now()).toBeLessThan(oldExpiry);

    await sleepUntil(oldExpiry + 200);
    expect(await chat.ask({ type: "ping" }, "pong")).toEqual({ type: "pong" });
    expect(chat.ws.readyState).toBe(WebSocket.OPEN);

    await chatExpired(chat, expiryOf(fresh) + GRACE_MS);
  });

  it("holding a stream at its expiry, is closed once the stream is over: the expiry does not cut it short", async () => {
    const user = await t.userWithRole("USER");
    const trpc = await idleTrpcSocket(user.token);
    trpc.send({ id: 2, method: "subscription", params: { path: "emergency.watch" } });
    expect((await trpc.replyTo(2)).result?.type).toBe("data");

    await sleepUntil(expiryOf(user.token) + 200);
    await trpc.barrier();
    expect(trpc.ws.readyState).toBe(WebSocket.OPEN);

    trpc.send({ id: 2, method: "subscription.stop" });
    expect(await by(trpc.closed, Date.now() + GRACE_MS, "the tRPC socket's close")).toEqual(expiredClose);
  });
});
