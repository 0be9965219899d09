/**
 * Subscriptions over tRPC's WebSocket hold stream slots as SSE subscriptions do: a signed-in
 * socket's chat.stream counts against STREAMS_PER_USER, an anonymous socket's
 * emergency.watch against WATCH_STREAMS_PER_IP; beyond, TOO_MANY_REQUESTS with
 * retryAfterSec; a slot frees when its stream completes, is unsubscribed or its socket
 * closes. Real server, real `ws`, the typed client (and tRPC's wire protocol by hand).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createSwitchboardClient } from "@switchboard/client";
import type { TChatStreamEvent } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { collectEvents, type SubscriptionHandlers } from "../../../test/subscription.ts";
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

/** A reply of tRPC's WebSocket protocol. */
interface Reply {
  id: number;
  result?: { type: string };
  error?: { data: Record<string, unknown> };
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
    const raw = new WebSocket(`${t.url.replace(/^http/, "ws")}/trpc`);
    const replies: Reply[] = [];
    raw.on("message", (data) => replies.push(JSON.parse(data.toString()) as Reply));
    const replyTo = (id: number) =>
      new Promise<Reply>((resolve) => {
        const look = () => {
          const reply = replies.find((r) => r.id === id && (r.error || r.result?.type === "data"));
          if (reply) resolve(reply);
          else raw.once("message", look);
        };
        look();
      });
    await new Promise((resolve, reject) => raw.once("open", resolve).once("error", reject));
    for (const id of [1, 2, 3]) raw.send(JSON.stringify({ id, method: "subscription", params: { path: "emergency.watch" } }));
    expect((await replyTo(1)).result?.type).toBe("data");
    expect((await replyTo(2)).result?.type).toBe("data");
    expect((await replyTo(3)).error?.data).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterSec: STREAM_RETRY_AFTER_SEC });
    const closed = new Promise((resolve) => raw.once("close", resolve));
    raw.terminate();
    await closed;

    // The server frees the slots once it has seen the close (another socket): ask until it has.
    const client = socketClient();
    const watch = () => opened((handlers) => client.emergency.watch.subscribe(undefined, handlers));
    const open: Open[] = [];
    for (let i = 0; open.length < WATCH_STREAMS_PER_IP; i++) {
      try {
        open.push(await watch());
      } catch (error) {
        if (i > 100) throw error;
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
