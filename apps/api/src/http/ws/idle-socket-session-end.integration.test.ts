/**
 * An idle signed-in WebSocket — tRPC's at /trpc, and /ws/chat — is closed with 1008
 * "Session ended" as soon as its token stops acting, without waiting for its next call: the
 * session signed out, the user disabled, the API key revoked. The revocation is made on one
 * instance and the sockets live on another (same PostgreSQL, same Redis), so the end arrives
 * with the revocation's push. A change that leaves the token acting (an API key's owner
 * re-roled) keeps the socket open, and other callers' sockets are untouched. Real servers,
 * real `ws` clients; nothing is called on the sockets after the revocation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startFleet, type TestApp, type TestFleet } from "../../../test/app.ts";
import { bearer } from "../../../test/http.ts";
import { uniquePrefix } from "../../../test/redis.ts";
import { openTrpcSocket, type RawTrpcSocket, type SocketClose } from "../../../test/trpc-socket.ts";
import { SESSION_ENDED_MESSAGE } from "../../services/auth/credential-watch.ts";
import { SESSION_ENDED_CLOSE } from "./socket-auth.ts";

let fleet: TestFleet;
let a: TestApp;
let b: TestApp;
let root: ReturnType<TestApp["client"]>;

beforeAll(async () => {
  fleet = await startFleet({ prefix: uniquePrefix("idle-ws") });
  ({ a, b } = fleet);
  root = a.client(await a.login());
});
afterAll(async () => fleet?.close());

const policyClose: SocketClose = { ...SESSION_ENDED_CLOSE };
/** Well above a push across instances, well below anything a person would call prompt. */
const PROMPTLY_MS = 5_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${PROMPTLY_MS} ms`)), PROMPTLY_MS))]);
}

/** A tRPC socket on `t` that made one call as `token`'s holder and is now idle. */
async function idleTrpcSocket(t: TestApp, token: string): Promise<RawTrpcSocket> {
  const socket = await openTrpcSocket(t.url, { headers: bearer(token) });
  expect((await socket.call(1, "query", "auth.me")).result?.type).toBe("data");
  return socket;
}

interface ChatSocket {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: Promise<SocketClose>;
}

/** A /ws/chat socket on `t`, signed in as `token`'s holder (auth_ok received) and idle. */
async function idleChatSocket(t: TestApp, token: string): Promise<ChatSocket> {
  const ws = new WebSocket(`${t.url.replace(/^http/, "ws")}/ws/chat`, ["switchboard", `bearer.${token}`]);
  const messages: Array<Record<string, unknown>> = [];
  const closed = new Promise<SocketClose>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  const signedIn = new Promise<void>((resolve, reject) => {
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      messages.push(message);
      if (message["type"] === "auth_ok") resolve();
    });
    ws.once("error", reject);
    void closed.then((c) => reject(new Error(`closed before auth_ok: ${c.code} ${c.reason}`)));
  });
  await signedIn;
  return { ws, messages, closed };
}

/** The /ws/chat socket was told why, then closed with 1008. */
async function chatEndedBySessionEnd(socket: ChatSocket): Promise<void> {
  expect(await within(socket.closed, "the /ws/chat close")).toEqual(policyClose);
  expect(socket.messages.at(-1)).toEqual({ type: "error", code: "UNAUTHORIZED", message: SESSION_ENDED_MESSAGE });
}

async function stillOpen(trpc: RawTrpcSocket, chat: ChatSocket): Promise<void> {
  expect((await trpc.call(99, "query", "auth.me")).result?.type).toBe("data");
  expect(trpc.ws.readyState).toBe(WebSocket.OPEN);
  expect(chat.ws.readyState).toBe(WebSocket.OPEN);
}

describe("an idle signed-in WebSocket on another instance", () => {
  it("is closed when its user signs out; another user's sockets stay open", async () => {
    const [user, bystander] = [await a.userWithRole("USER"), await a.userWithRole("USER")];
    const trpc = await idleTrpcSocket(b, user.token);
    const chat = await idleChatSocket(b, user.token);
    const otherTrpc = await idleTrpcSocket(b, bystander.token);
    const otherChat = await idleChatSocket(b, bystander.token);

    await a.client(user.token).auth.logout.mutate();
    expect(await within(trpc.closed, "the tRPC socket's close")).toEqual(policyClose);
    await chatEndedBySessionEnd(chat);
    await stillOpen(otherTrpc, otherChat);
    await otherTrpc.close();
    otherChat.ws.close();
  });

  it("is closed when a SuperAdmin disables the user", async () => {
    const user = await a.userWithRole("USER");
    const trpc = await idleTrpcSocket(b, user.token);
    const chat = await idleChatSocket(b, user.token);

    await root.users.update.mutate({ id: user.id, disabled: true });
    expect(await within(trpc.closed, "the tRPC socket's close")).toEqual(policyClose);
    await chatEndedBySessionEnd(chat);
  });

  it("opened with an API key, is closed when the key is revoked; re-roling its owner leaves it open (the key acts with the new role)", async () => {
    const admin = await a.userWithRole("ADMIN");
    const owner = a.client(admin.token);
    const key = await owner.keys.create.mutate({ name: "socket key" });
    const trpc = await idleTrpcSocket(b, key.key);
    const chat = await idleChatSocket(b, key.key);

    await root.users.update.mutate({ id: admin.id, role: "USER" });
    // The owner's own session ended with the role change; the key did not.
    await eventuallyTrue(async () => (await owner.auth.me.query().then(() => false, () => true)), "the owner's session to end");
    await stillOpen(trpc, chat);

    await a.client(await a.login(admin.email, admin.password)).keys.revoke.mutate({ id: key.id });
    expect(await within(trpc.closed, "the tRPC socket's close")).toEqual(policyClose);
    await chatEndedBySessionEnd(chat);
  });
});

async function eventuallyTrue(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + PROMPTLY_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
