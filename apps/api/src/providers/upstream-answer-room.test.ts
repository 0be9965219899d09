/**
 * Whole upstream answers held at once share one room per instance: a real local upstream
 * sends large answers to calls in flight together, and the one that finds no room fails as
 * "overloaded" at once (its upstream request dropped, never a wait), while small answers and
 * streams pass, and the room comes back when an answer is read or its call ends.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { ask, collect, failure } from "../../test/provider-calls.ts";
import { createOpenAICompatibleProvider } from "./openai-compatible.ts";
import { UPSTREAM_ANSWER_ROOM_BYTES, upstreamAnswerRoom } from "./upstream-answer-room.ts";
import { MAX_REPLY_BYTES } from "./upstream-http.ts";

const MB = 1024 * 1024;
/** Well over half the room: two such answers cannot be held at once. */
const LARGE_MB = 40;
const MEGABYTE_OF_TEXT = Buffer.alloc(MB, "x");
/** One megabyte of an SSE comment line, which the client drops but still has to read. */
const MEGABYTE_OF_COMMENT = Buffer.concat([Buffer.from(": "), Buffer.alloc(MB - 3, "x"), Buffer.from("\n")]);

let wire: FakeOpenAIServer;
beforeAll(async () => {
  wire = await startFakeOpenAI({ name: "wire" });
});
afterAll(async () => wire.close());
afterEach(() => {
  wire.requests.length = 0;
  wire.setDefault({ kind: "ok" });
});

const provider = () => createOpenAICompatibleProvider({ id: "wire", baseUrl: wire.url, apiKey: "sk-wire", model: "wire-1", configured: true });

/** A chat answer of about `mb` MB of text, as JSON pieces of one MB each. */
function largeAnswer(mb: number): Buffer[] {
  const head = Buffer.from('{"model":"wire-1","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"');
  const tail = Buffer.from('"}}]}');
  return [head, ...Array<Buffer>(mb).fill(MEGABYTE_OF_TEXT), tail];
}
const lengthOf = (pieces: Buffer[]) => String(pieces.reduce((sum, p) => sum + p.length, 0));

/** Resolves once the room holds at least `bytes` (the call in flight has read that far). */
async function roomHolds(bytes: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (UPSTREAM_ANSWER_ROOM_BYTES - upstreamAnswerRoom.free < bytes) {
    if (Date.now() > deadline) throw new Error(`the room never held ${bytes} bytes`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("the room of whole upstream answers", () => {
  it("a declared length takes its room before the body is read: a second large answer at once is overloaded, a small one passes, and the room comes back", async () => {
    const held = new AbortController();
    const pieces = largeAnswer(LARGE_MB);
    // The first answer declares its length and sends its first MB, then holds.
    wire.enqueue({ kind: "raw", contentType: "application/json", headers: { "content-length": lengthOf(pieces) }, pieces: pieces.slice(0, 2), hold: true });
    const first = failure(provider().complete(ask({ signal: held.signal })));
    await roomHolds((LARGE_MB - 1) * MB);

    wire.enqueue({ kind: "raw", contentType: "application/json", headers: { "content-length": lengthOf(pieces) }, pieces: pieces.slice(0, 2), hold: true });
    const started = Date.now();
    const refused = await failure(provider().complete(ask()));
    expect(refused).toMatchObject({ kind: "overloaded" });
    expect(refused?.message).toContain("no room on this instance for another large upstream answer");
    expect(Date.now() - started).toBeLessThan(2_000);
    // Dropped unread: the upstream sees the request go.
    await wire.waitForAbort(1);

    // An answer under a MB never draws on the room.
    expect((await provider().complete(ask())).content).toBeTruthy();

    held.abort();
    expect(await first).toMatchObject({ kind: "aborted" });
    expect(upstreamAnswerRoom.free).toBe(UPSTREAM_ANSWER_ROOM_BYTES);
  });

  it("a chunked answer draws as its bytes arrive: the second of two sent at once is overloaded part-way, the first is read whole", async () => {
    const pieces = largeAnswer(LARGE_MB);
    const slow = { kind: "raw" as const, contentType: "application/json", pieces };
    wire.enqueue(slow, slow);
    const [a, b] = await Promise.all([
      provider().complete(ask()).then((answer) => answer.content.length, (error: unknown) => error),
      provider().complete(ask()).then((answer) => answer.content.length, (error: unknown) => error),
    ]);
    const answered = [a, b].filter((x) => typeof x === "number");
    const refused = [a, b].filter((x) => typeof x !== "number");
    expect(answered).toEqual([LARGE_MB * MB]);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ kind: "overloaded" });
    expect(upstreamAnswerRoom.free).toBe(UPSTREAM_ANSWER_ROOM_BYTES);
  });

  it("an answer just under the per-answer bound is read whole on an idle instance: the room is never smaller than what a retry needs", async () => {
    const mb = MAX_REPLY_BYTES / MB - 1;
    const pieces = largeAnswer(mb);
    wire.enqueue({ kind: "raw", contentType: "application/json", headers: { "content-length": lengthOf(pieces) }, pieces });
    expect((await provider().complete(ask())).content).toHaveLength(mb * MB);
    expect(upstreamAnswerRoom.free).toBe(UPSTREAM_ANSWER_ROOM_BYTES);
  });

  it("streams do not draw on the room: one larger than what is left passes while a large answer holds it", async () => {
    const held = new AbortController();
    const pieces = largeAnswer(60);
    wire.enqueue({ kind: "raw", contentType: "application/json", headers: { "content-length": lengthOf(pieces) }, pieces: pieces.slice(0, 1), hold: true });
    const first = failure(provider().complete(ask({ signal: held.signal })));
    await roomHolds(59 * MB);
    const stream = [
      ...Array<Buffer>(8).fill(MEGABYTE_OF_COMMENT),
      'data: {"model":"wire-1","choices":[{"index":0,"delta":{"content":"streamed"},"finish_reason":null}]}\n\n',
      'data: {"model":"wire-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
    ];
    wire.enqueue({ kind: "raw", contentType: "text/event-stream", pieces: stream });
    const streamed = await collect(provider());
    expect(streamed.error).toBeUndefined();
    expect(JSON.stringify(streamed.chunks)).toContain("streamed");
    held.abort();
    await first;
  });
});
