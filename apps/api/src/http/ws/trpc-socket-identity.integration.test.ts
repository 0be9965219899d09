/**
 * Each call on tRPC's WebSocket is made by whoever the socket's token names when the call
 * runs, as each /ws/chat chat is: expired or re-roled (an API key's owner), the next call on
 * the open socket sees it (an idle socket is closed at its token's expiry anyway:
 * socket-token-expiry.integration.test.ts; here a running stream holds it open past then). A token that no longer resolves gets UNAUTHORIZED and the socket a
 * 1008 close, so the client signs in again; signed out, disabled or demoted, the socket is
 * closed at once, idle or not (idle-socket-session-end.integration.test.ts has the fleet); a
 * socket without a token stays anonymous. Real server, tRPC's wire protocol spoken by hand
 * with `ws` (so it is the same socket throughout).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, trpcQuery } from "../../../test/http.ts";
import { openTrpcSocket, type OpenOptions } from "../../../test/trpc-socket.ts";
import { eventually } from "../../../test/chat.ts";
import { SESSION_ENDED_MESSAGE } from "../../services/auth/credential-watch.ts";
import { ACCESS_COOKIE } from "../../trpc/cookies.ts";
import { SESSION_ENDED_CLOSE } from "./socket-auth.ts";

let t: TestApp;
let root: ReturnType<TestApp["client"]>;

beforeAll(async () => {
  t = await startTestApp();
  root = t.client(await t.login());
});
afterAll(async () => {
  await t?.close();
});

const sessionEnded = { message: SESSION_ENDED_MESSAGE, data: { code: "UNAUTHORIZED" } };
const policyClose = { code: 1008, reason: SESSION_ENDED_CLOSE.reason };

/** Every way a socket can carry its token. */
const carriers: Array<[string, (token: string) => OpenOptions]> = [
  ["connectionParams", (token) => ({ token })],
  ["the Authorization header", (token) => ({ headers: bearer(token) })],
  ["a bearer.<token> subprotocol", (token) => ({ protocols: ["switchboard", `bearer.${token}`] })],
  ["the session cookie", (token) => ({ headers: { cookie: `${ACCESS_COOKIE}=${token}` } })],
];

describe("who makes a call on tRPC's WebSocket", () => {
  it.each(carriers)("signed out, the idle socket is closed with 1008, no call needed (token in %s)", async (_carrier, carry) => {
    const user = await t.userWithRole("USER");
    const s = await openTrpcSocket(t.url, carry(user.token));
    expect((await s.call(1, "query", "auth.me")).result?.data).toMatchObject({ id: user.id, email: user.email });

    await t.client(user.token).auth.logout.mutate();
    expect(await s.closed).toEqual(policyClose);

    // Signed in again, a new socket is the user's once more.
    const again = await openTrpcSocket(t.url, carry(await t.login(user.email, user.password)));
    expect((await again.call(1, "query", "auth.me")).result?.data).toMatchObject({ id: user.id });
    await again.close();
  });

  it("a role change bites on the next call: a demoted ADMIN's session ends, their API key acts as a USER, a disabled owner's key ends", async () => {
    const admin = await t.userWithRole("ADMIN");
    const key = (await t.client(admin.token).keys.create.mutate({ name: "metrics", scopes: ["read:metrics"] })).key;
    const bySession = await openTrpcSocket(t.url, { headers: bearer(admin.token) });
    const byKey = await openTrpcSocket(t.url, { protocols: ["switchboard", `bearer.${key}`] });
    for (const s of [bySession, byKey]) expect((await s.call(1, "query", "metrics.summary")).result?.type).toBe("data");

    await root.users.update.mutate({ id: admin.id, role: "USER" });
    // The session's token carries the role it was issued with: it no longer resolves, and
    // the socket is closed without waiting for a call.
    expect(await bySession.closed).toEqual(policyClose);
    // A key acts with its owner's role of the moment: an ADMIN procedure is now forbidden,
    // what a USER may read is not, and the socket stays open.
    expect((await byKey.call(2, "query", "metrics.summary")).error).toMatchObject({ data: { code: "FORBIDDEN" } });
    expect((await byKey.call(3, "query", "logs.list", {})).result?.type).toBe("data");
    await root.users.update.mutate({ id: admin.id, role: "ADMIN" });
    expect((await byKey.call(4, "query", "metrics.summary")).result?.type).toBe("data");

    await root.users.update.mutate({ id: admin.id, disabled: true });
    expect(await byKey.closed).toEqual(policyClose);
  });

  it("a socket without a token stays anonymous: public calls work, signed-in ones are refused, the socket stays open", async () => {
    const s = await openTrpcSocket(t.url);
    expect((await s.call(1, "query", "auth.methods")).result?.type).toBe("data");
    expect((await s.call(2, "query", "auth.me")).error).toMatchObject({ message: "Sign in first", data: { code: "UNAUTHORIZED" } });
    expect((await s.call(3, "query", "auth.methods")).result?.type).toBe("data");
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    await s.close();
  });
});

describe("an access token that expires on an open socket", () => {
  const TTL_SEC = 3;
  let short: TestApp;
  beforeAll(async () => {
    short = await startTestApp({ env: { ACCESS_TOKEN_TTL_SEC: String(TTL_SEC) } });
  });
  afterAll(async () => {
    await short?.close();
  });

  /** A socket signed in with `token` holding one stream (emergency.watch, id 1), which keeps it open past the token's expiry. */
  async function holdingAStream(token: string) {
    const s = await openTrpcSocket(short.url, { token });
    expect((await s.call(2, "query", "auth.me")).result?.type).toBe("data");
    s.send({ id: 1, method: "subscription", params: { path: "emergency.watch" } });
    expect((await s.replyTo(1)).result?.type).toBe("data");
    return s;
  }

  async function pastExpiry(token: string) {
    const { exp } = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 50));
  }

  it("ends the socket at its first call after the expiry", async () => {
    const token = await short.login();
    const s = await holdingAStream(token);

    await pastExpiry(token);
    expect((await s.call(3, "query", "auth.me")).error).toMatchObject(sessionEnded);
    expect(await s.closed).toEqual(policyClose);
  });

  it("a subscription started after the expiry is refused too, and is logged as the refusal it is (401)", async () => {
    const token = await short.login();
    const s = await holdingAStream(token);
    const chat = (id: number) => ({ id, method: "subscription", params: { path: "chat.stream", input: { message: "hello" } } });

    await pastExpiry(token);
    s.send(chat(3));
    expect((await s.replyTo(3)).error).toMatchObject(sessionEnded);
    expect(await s.closed).toEqual(policyClose);

    // (A fresh token each time: they live TTL_SEC seconds here.)
    const row = await eventually(async () => {
      const rows = (await trpcQuery(short.url, "logs.list", { status: 401, limit: 100 }, bearer(await short.login()))).body.result.data.items as Array<Record<string, unknown>>;
      return rows.find((r) => r["route"] === "chat.stream");
    }, "the refused call's row");
    expect(row).toMatchObject({ status: 401, errorCode: "UNAUTHORIZED", stream: true, userId: null });
  });
});
