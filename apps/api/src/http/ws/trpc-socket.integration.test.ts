/**
 * Subscriptions over tRPC's WebSocket hold stream slots as SSE subscriptions do: a signed-in
 * socket's chat.stream counts against STREAMS_PER_USER, an anonymous socket's
 * emergency.watch against WATCH_STREAMS_PER_IP; beyond, TOO_MANY_REQUESTS with
 * retryAfterSec; a slot frees when its stream completes, is unsubscribed or its socket
 * closes — also when that happens before the stream was first read, which still ends the
 * call's turn (its request-log row). Real server, real `ws`, the typed client (and tRPC's
 * wire protocol by hand).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createSwitchboardClient } from "@switchboard/client";
import type { TChatStreamEvent } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { collectEvents, type SubscriptionHandlers } from "../../../test/subscription.ts";
import { eventually } from "../../../test/chat.ts";
import { bearer, trpcQuery } from "../../../test/http.ts";
import { openTrpcSocket } from "../../../test/trpc-socket.ts";
import { STREAM_RETRY_AFTER_SEC } from "../stream-slots.ts";

const STREAMS_PER_USER = 2;
const WATCH_STREAMS_PER_IP = 2;
/** Chats with this message stay open (the upstream stalls after its first chunk). */
const HOLD = "hold the line";

let t: TestApp;
let beta: FakeOpenAIServer;

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  beta.setDefault(({ body }) => (body.messages?.at(-1)?.content === HOLD ? { kind: "stall", afterChunks: 1 } : { kind: "ok", content: "done quickly" }));
  t = await startTestApp({
    env: {
      BETA_MODEL_BASE_URL: beta.url,
      PROVIDER_ORDER: "beta,template",
      STREAMS_PER_USER: String(STREAMS_PER_USER),
      WATCH_STREAMS_PER_IP: String(WATCH_STREAMS_PER_IP),
    },
  });
});
afterAll(async () => {
  await t?.close();
  await beta?.close();
});

/** The typed client with subscriptions over one WebSocket (opened by the first, closed after the last). */
const socketClient = (token?: string) =>
  createSwitchboardClient({ url: t.url, ...(token ? { token } : {}), transport: "websocket", WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });

interface Open {
  unsubscribe(): void;
}

/** Subscribes; resolves once the first event arrived (the stream is open), rejects with a refusal. */
function opened<E>(subscribe: (handlers: SubscriptionHandlers<E>) => Open): Promise<Open> {
  return new Promise((resolve, reject) => {
    const sub = subscribe({
      onData: () => resolve(sub),
      onError: reject,
      onComplete: () => reject(new Error("the stream completed before its first event")),
    });
  });
}

const refusedFor = (owner: RegExp) => ({
  message: expect.stringMatching(owner),
  data: { code: "TOO_MANY_REQUESTS", retryAfterSec: STREAM_RETRY_AFTER_SEC },
});

describe("stream slots over tRPC's WebSocket", () => {
  it(`a signed-in socket holds ${STREAMS_PER_USER} chat streams; one more is refused; one ended frees its slot`, async () => {
    const user = await t.userWithRole("USER");
    const client = socketClient(user.token);
    const hold = () => opened<TChatStreamEvent>((handlers) => client.chat.stream.subscribe({ message: HOLD }, handlers));

    const [a, b] = [await hold(), await hold()];
    await expect(hold()).rejects.toMatchObject(refusedFor(/per user/));

    // Unsubscribed: its slot is free again, and only its own.
    a.unsubscribe();
    const c = await hold();
    await expect(hold()).rejects.toMatchObject(refusedFor(/per user/));

    // Completed: a stream that ends on its own frees its slot too.
    c.unsubscribe();
    const quick = await collectEvents<TChatStreamEvent>(
      (handlers) => client.chat.stream.subscribe({ message: "quick" }, handlers),
      () => false, // read until the server completes the stream
    );
    expect(quick.at(-1)).toMatchObject({ type: "chat_complete", content: "done quickly" });
    const d = await hold();
    await expect(hold()).rejects.toMatchObject(refusedFor(/per user/));

    // Another user has slots of their own.
    const other = await t.userWithRole("USER");
    const theirs = await opened<TChatStreamEvent>((handlers) => socketClient(other.token).chat.stream.subscribe({ message: HOLD }, handlers));
    for (const sub of [b, d, theirs]) sub.unsubscribe();
  });

  it(`an anonymous socket holds ${WATCH_STREAMS_PER_IP} emergency.watch streams per address; a closed socket or one ended frees its slot`, async () => {
    // tRPC's protocol by hand first, to close a socket with its streams still open.
    const raw = await openTrpcSocket(t.url);
    for (const id of [1, 2, 3]) raw.send({ id, method: "subscription", params: { path: "emergency.watch" } });
    expect((await raw.replyTo(1)).result?.type).toBe("data");
    expect((await raw.replyTo(2)).result?.type).toBe("data");
    expect((await raw.replyTo(3)).error?.data).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterSec: STREAM_RETRY_AFTER_SEC });
    raw.ws.terminate();
    await raw.closed;

    // The server frees the slots once it has seen the close (another socket): ask until it has,
    // for up to 10 s.
    const client = socketClient();
    const watch = () => opened((handlers) => client.emergency.watch.subscribe(undefined, handlers));
    const open: Open[] = [];
    const deadline = Date.now() + 10_000;
    while (open.length < WATCH_STREAMS_PER_IP) {
      try {
        open.push(await watch());
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await expect(watch()).rejects.toMatchObject(refusedFor(/per address/));
    // Unsubscribed: its slot is free again (same socket, so no waiting), and only its own.
    open[0]!.unsubscribe();
    open[0] = await watch();
    await expect(watch()).rejects.toMatchObject(refusedFor(/per address/));
    for (const sub of open) sub.unsubscribe();
  });
});

describe("a chat.stream stopped before its stream was first read", () => {
  /**
   * Starts chat.stream on a new socket and holds the call inside its procedure until
   * `release`: the caller has a budget, so their first metered call reads their spend from the
   * request log, which stays locked meanwhile. Whatever the client does then reaches the
   * server before the procedure has returned its stream, so tRPC drops that stream unread.
   */
  async function heldInProcedure() {
    const user = await t.userWithRole("USER");
    await t.client(await t.login()).users.update.mutate({ id: user.id, budgetUsd: 100 });
    const db = new pg.Client({ connectionString: t.app.deps.env.DATABASE_URL });
    await db.connect();
    await db.query("BEGIN");
    await db.query('LOCK TABLE "RequestLog" IN ACCESS EXCLUSIVE MODE');
    const release = async () => {
      await db.query("COMMIT");
      await db.end();
    };
    try {
      const socket = await openTrpcSocket(t.url, { token: user.token });
      socket.send({ id: 1, method: "subscription", params: { path: "chat.stream", input: { message: "never read" } } });
      // A read of the table waiting for the lock: the spend query (the only reader meanwhile).
      await eventually(async () => {
        const waiting = await db.query(`SELECT 1 FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = '"RequestLog"'::regclass AND mode = 'AccessShareLock' AND NOT granted`);
        if (socket.replies.length > 0) throw new Error(`the call did not wait: ${JSON.stringify(socket.replies)}`);
        return waiting.rowCount ? true : undefined;
      }, "the spend query to wait for the lock");
      return { user, socket, release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** The user's request-log row for the call: it is written when the call's turn ends. */
  const rowOf = (user: { token: string }) =>
    eventually(async () => {
      const rows = (await trpcQuery(t.url, "logs.list", { limit: 10 }, bearer(user.token))).body.result.data.items as Array<Record<string, unknown>>;
      return rows.find((r) => r["route"] === "chat.stream");
    }, "the stopped call's row");

  /** Every one of the user's stream slots is free: as many streams as the cap all open. */
  async function allSlotsFree(user: { token: string }) {
    const client = socketClient(user.token);
    const open: Open[] = [];
    for (let i = 0; i < STREAMS_PER_USER; i++) open.push(await opened<TChatStreamEvent>((handlers) => client.chat.stream.subscribe({ message: HOLD }, handlers)));
    for (const sub of open) sub.unsubscribe();
  }

  // The caller left before its answer, with no error: 499 (client closed request), as on every route.
  const stoppedRow = (user: { id: string }) => ({ userId: user.id, route: "chat.stream", status: 499, stream: true });

  it("unsubscribed (subscription.stop): the call is still a request-log row and frees its stream slot", async () => {
    const { user, socket, release } = await heldInProcedure();
    socket.send({ id: 1, method: "subscription.stop" });
    await socket.barrier();
    await release();
    await socket.reply((r) => r.id === 1 && r.result?.type === "stopped");
    expect(socket.replies.filter((r) => r.result?.type === "data")).toEqual([]);
    expect(await rowOf(user)).toMatchObject(stoppedRow(user));
    await allSlotsFree(user);
    await socket.close();
  });

  it("the socket closed: the call is still a request-log row and frees its stream slot", async () => {
    const { user, socket, release } = await heldInProcedure();
    // Resolves once the server has answered the close: it no longer sends on the socket.
    await socket.close();
    await release();
    expect(await rowOf(user)).toMatchObject(stoppedRow(user));
    await allSlotsFree(user);
  });
});
