/**
 * A subscription already running when the session or API key that authorized it ends — signed
 * out elsewhere, demoted or disabled by a SuperAdmin, the key revoked — ends then, with the
 * refusal its next call would get: UNAUTHORIZED "Session ended; sign in again". Over tRPC's
 * WebSocket the socket is then closed with 1008; over SSE the stream's last event is the error
 * and the response ends; a /ws/chat chat mid-answer is cut off the same way. Other callers'
 * streams keep running, and across instances the end arrives with the revocation's push.
 * A chat cut off mid-answer aborts its upstream call, is still its request-log row and frees
 * its stream slot. Real servers, real PostgreSQL and Redis; the only double is the fake
 * upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { eventually } from "../../test/chat.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer } from "../../test/http.ts";
import { openTrpcSocket, type OpenOptions, type RawTrpcSocket, type SocketClose } from "../../test/trpc-socket.ts";
import { SESSION_ENDED_MESSAGE } from "../services/auth/credential-watch.ts";
import { SESSION_ENDED_CLOSE } from "./ws/socket-auth.ts";

const STREAMS_PER_USER = 2;
/** Chats with this message stay open (the upstream stalls after its first chunk). */
const HOLD = "hold the line";

let a: TestApp;
let b: TestApp;
let beta: FakeOpenAIServer;
let root: ReturnType<TestApp["client"]>;

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  beta.setDefault(({ body }) => (body.messages?.at(-1)?.content === HOLD ? { kind: "stall", afterChunks: 1 } : { kind: "ok", content: "done quickly" }));
  const env = { BETA_MODEL_BASE_URL: beta.url, PROVIDER_ORDER: "beta,template", STREAMS_PER_USER: String(STREAMS_PER_USER) };
  a = await startTestApp({ env });
  // A second instance of the same deployment: same database, same Redis.
  b = await startTestApp({ env, databaseUrl: a.app.deps.env.DATABASE_URL!, redisKeyPrefix: a.app.deps.env.REDIS_KEY_PREFIX });
  root = a.client(await a.login());
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await beta?.close();
});

const sessionEnded = { message: SESSION_ENDED_MESSAGE, data: { code: "UNAUTHORIZED" } };
const policyClose: SocketClose = SESSION_ENDED_CLOSE;

const subscribe = (id: number, path: string, input?: unknown) => ({ id, method: "subscription", params: { path, input } });

/** A socket on `t` running metrics.live as subscription 1, its first push received. */
async function watchingMetrics(t: TestApp, opts: OpenOptions): Promise<RawTrpcSocket> {
  const socket = await openTrpcSocket(t.url, opts);
  socket.send(subscribe(1, "metrics.live"));
  await socket.reply((r) => r.id === 1 && r.result?.type === "data");
  return socket;
}

/** The socket's metrics.live pushes again after new traffic: the subscription is still running. */
async function stillStreaming(socket: RawTrpcSocket): Promise<void> {
  const before = new Set(socket.replies);
  await root.chat.send.mutate({ message: "traffic for the live figures" });
  await socket.reply((r) => !before.has(r) && r.id === 1 && r.result?.type === "data");
  expect(socket.replies.filter((r) => r.error)).toEqual([]);
}

/** The running subscription 1 ended with the session's end, and the socket with it. */
async function endedBySessionEnd(socket: RawTrpcSocket): Promise<void> {
  expect((await socket.reply((r) => r.id === 1 && r.error !== undefined)).error).toMatchObject(sessionEnded);
  expect(await socket.closed).toEqual(policyClose);
}

/** Opens metrics.live over SSE; `next()` reads until the text holds `needle`, `rest()` to the response's end. */
async function sseMetrics(t: TestApp, token: string) {
  const res = await fetch(`${t.url}/trpc/metrics.live`, { headers: { accept: "text/event-stream", ...bearer(token) } });
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  return {
    async next(needle: string) {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before ${needle}: ${text}`);
        text += value;
      }
    },
    async rest(): Promise<string> {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += value;
      }
    },
    /** Reads until one more summary than so far has arrived. */
    async nextPush() {
      const count = () => text.split('"generatedAt"').length;
      const seen = count();
      while (count() === seen) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended: ${text}`);
        text += value;
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

describe("a running subscription over tRPC's WebSocket", () => {
  it("ends with UNAUTHORIZED and a 1008 close when its admin signs out elsewhere; another admin's keeps streaming", async () => {
    const [admin, bystander] = [await a.userWithRole("ADMIN"), await a.userWithRole("ADMIN")];
    const victim = await watchingMetrics(a, { token: admin.token });
    const other = await watchingMetrics(a, { token: bystander.token });

    await a.client(admin.token).auth.logout.mutate();
    await endedBySessionEnd(victim);
    await stillStreaming(other);
    await other.close();
  });

  it("ends when a SuperAdmin demotes the admin, and when one disables them", async () => {
    const demoted = await a.userWithRole("ADMIN");
    const socket = await watchingMetrics(a, { headers: bearer(demoted.token) });
    await root.users.update.mutate({ id: demoted.id, role: "USER" });
    await endedBySessionEnd(socket);

    const disabled = await a.userWithRole("ADMIN");
    const again = await watchingMetrics(a, { protocols: ["switchboard", `bearer.${disabled.token}`] });
    await root.users.update.mutate({ id: disabled.id, disabled: true });
    await endedBySessionEnd(again);
  });

  it("an API key's subscription ends when the key is revoked; the owner's other key keeps streaming", async () => {
    const admin = await a.userWithRole("ADMIN");
    const owner = a.client(admin.token);
    const revoked = await owner.keys.create.mutate({ name: "revoked", scopes: ["read:metrics"] });
    const kept = await owner.keys.create.mutate({ name: "kept", scopes: ["read:metrics"] });
    const victim = await watchingMetrics(a, { token: revoked.key });
    const other = await watchingMetrics(a, { headers: bearer(kept.key) });

    await owner.keys.revoke.mutate({ id: revoked.id });
    await endedBySessionEnd(victim);
    await stillStreaming(other);

    // Its owner demoted, a key no longer acts as an ADMIN: its admin stream ends too.
    await root.users.update.mutate({ id: admin.id, role: "USER" });
    await endedBySessionEnd(other);
  });
});

describe("a running subscription over SSE", () => {
  it("ends with the error as its last event, and the response ends, when its admin signs out elsewhere", async () => {
    const admin = await a.userWithRole("ADMIN");
    const stream = await sseMetrics(a, admin.token);
    await stream.next('"generatedAt"');

    await a.client(admin.token).auth.logout.mutate();
    const text = await stream.rest();
    const lastEvent = text.trim().split(/\n\n+/).at(-1)!.trim();
    expect(lastEvent).toMatch(/^event: serialized-error/);
    expect(lastEvent).toContain(SESSION_ENDED_MESSAGE);
    expect(lastEvent).toContain('"UNAUTHORIZED"');
  });

  it("the typed client sees UNAUTHORIZED when a SuperAdmin demotes the admin; another admin's stream runs on", async () => {
    const [admin, bystander] = [await a.userWithRole("ADMIN"), await a.userWithRole("ADMIN")];
    const other = await sseMetrics(a, bystander.token);
    await other.next('"generatedAt"');
    let firstPush!: () => void;
    const pushed = new Promise<void>((resolve) => (firstPush = resolve));
    const failed = new Promise<unknown>((resolve) => {
      a.client(admin.token).metrics.live.subscribe(undefined, { onData: () => firstPush(), onError: resolve });
    });
    await pushed;

    await root.users.update.mutate({ id: admin.id, role: "USER" });
    expect(await failed).toMatchObject(sessionEnded);
    // New traffic changes the figures: the bystander's stream pushes them.
    await root.chat.send.mutate({ message: "traffic for the live figures" });
    await other.nextPush();
    await other.cancel();
  });
});

describe("across instances", () => {
  it("a sign-out, a key revoked or a demotion on one instance ends the streams they authorized on another", async () => {
    const admin = await a.userWithRole("ADMIN");
    const owner = a.client(admin.token);
    const key = await owner.keys.create.mutate({ name: "on b", scopes: ["read:metrics"] });
    const bystander = await a.userWithRole("ADMIN");
    const bySession = await watchingMetrics(b, { token: admin.token });
    const byKey = await watchingMetrics(b, { token: key.key });
    const other = await watchingMetrics(b, { token: bystander.token });

    await owner.auth.logout.mutate();
    await endedBySessionEnd(bySession);
    // Signed in again (that session ended), the owner revokes the key.
    await a.client(await a.login(admin.email, admin.password)).keys.revoke.mutate({ id: key.id });
    await endedBySessionEnd(byKey);

    const sse = await sseMetrics(b, bystander.token);
    await sse.next('"generatedAt"');
    await root.users.update.mutate({ id: bystander.id, role: "USER" });
    await endedBySessionEnd(other);
    expect(await sse.rest()).toContain(SESSION_ENDED_MESSAGE);
  });
});

describe("a chat mid-answer when its user signs out", () => {
  /** The user's request-log row for `route`, read by the SuperAdmin (the user is signed out). */
  const rowOf = (user: { id: string }, route: string) =>
    eventually(async () => {
      const rows = (await root.logs.list.query({ userId: user.id, limit: 10 })).items as Array<Record<string, unknown>>;
      return rows.find((r) => r["route"] === route);
    }, `the cut-off chat's row (${route})`);

  /** Every one of the user's stream slots is free: as many chats as the cap all open, on one socket. */
  async function allSlotsFree(token: string) {
    const socket = await openTrpcSocket(a.url, { token });
    for (let id = 1; id <= STREAMS_PER_USER; id++) {
      socket.send(subscribe(id, "chat.stream", { message: HOLD }));
      expect((await socket.reply((r) => r.id === id && (r.error !== undefined || r.result?.type === "data"))).error).toBeUndefined();
    }
    await socket.close();
  }

  it("over tRPC's WebSocket: the chat ends with UNAUTHORIZED, the socket with 1008; its row is written and its slot freed", async () => {
    const user = await a.userWithRole("USER");
    const socket = await openTrpcSocket(a.url, { token: user.token });
    const upstream = beta.requests.length;
    socket.send(subscribe(1, "chat.stream", { message: HOLD }));
    await socket.reply((r) => r.id === 1 && (r.result?.data as { type?: string } | undefined)?.type === "chat_delta");

    await a.client(user.token).auth.logout.mutate();
    await endedBySessionEnd(socket);
    expect((await beta.waitForAbort(upstream)).aborted).toBe(true);
    expect(await rowOf(user, "chat.stream")).toMatchObject({ status: 200, stream: true, errorCode: "UNAUTHORIZED" });
    await allSlotsFree(await a.login(user.email, user.password));
  });

  it("over /ws/chat: the chat gets an UNAUTHORIZED error and the socket a 1008 close; its row is written and its slot freed", async () => {
    const user = await a.userWithRole("USER");
    const upstream = beta.requests.length;
    const ws = new WebSocket(`${a.url.replace(/^http/, "ws")}/ws/chat`, ["switchboard", `bearer.${user.token}`]);
    const messages: Array<Record<string, unknown>> = [];
    const arrived = (match: (m: Record<string, unknown>) => boolean) => eventually(async () => messages.find(match), "a /ws/chat message");
    const closed = new Promise<SocketClose>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      messages.push(m);
      if (m["type"] === "auth_ok") ws.send(JSON.stringify({ type: "chat", message: HOLD, id: "c1" }));
    });
    await arrived((m) => m["type"] === "chat_delta");

    await a.client(user.token).auth.logout.mutate();
    expect(await arrived((m) => m["type"] === "error")).toEqual({ type: "error", code: "UNAUTHORIZED", message: SESSION_ENDED_MESSAGE, id: "c1" });
    expect(await closed).toEqual(policyClose);
    expect((await beta.waitForAbort(upstream)).aborted).toBe(true);
    expect(await rowOf(user, "/ws/chat")).toMatchObject({ status: 200, stream: true, errorCode: "UNAUTHORIZED" });
    await allSlotsFree(await a.login(user.email, user.password));
  });

  it("over the legacy /api/chat/stream: the last event is the UNAUTHORIZED error and the response ends; its row is written", async () => {
    const user = await a.userWithRole("USER");
    const upstream = beta.requests.length;
    const res = await fetch(`${a.url}/api/chat/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(user.token) },
      body: JSON.stringify({ message: HOLD }),
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("chat_delta")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before its first delta: ${text}`);
      text += value;
    }

    await a.client(user.token).auth.logout.mutate();
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += next.value;
    const last = JSON.parse(text.trim().split(/\n\n+/).at(-1)!.replace(/^data: /, "")) as unknown;
    expect(last).toEqual({ type: "error", code: "UNAUTHORIZED", message: SESSION_ENDED_MESSAGE });
    expect((await beta.waitForAbort(upstream)).aborted).toBe(true);
    expect(await rowOf(user, "/api/chat/stream")).toMatchObject({ status: 200, stream: true, errorCode: "UNAUTHORIZED" });
  });
});
