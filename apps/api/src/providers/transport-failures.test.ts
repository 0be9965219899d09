/**
 * What every HTTP provider kind must do the same way, whatever protocol it speaks: a caller's
 * abort at each stage of a call, and a connection that fails or is cut. One table of cases,
 * run against each provider and its real local fake server; only how a fault is queued
 * differs between them. Protocol-specific answers and failures stay in each provider's file.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { anthropicEvent, startFakeAnthropic, type FakeAnthropicServer } from "../../test/fake-anthropic-server.ts";
import { closedPortUrl, startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { ask, collect, failure } from "../../test/provider-calls.ts";
import { createAnthropicProvider } from "./anthropic.ts";
import { createOpenAICompatibleProvider } from "./openai-compatible.ts";
import type { ChatProvider, ProviderChunk } from "./types.ts";
import { MAX_REPLY_BYTES, MAX_STREAM_BYTES } from "./upstream-http.ts";

interface Upstream {
  requests: { length: number };
  waitForRequests(count: number): Promise<void>;
  waitForAbort(index: number): Promise<unknown>;
}

/** One provider kind against its fake: the provider, and the faults each case needs queued for the next request. */
interface Harness {
  upstream: Upstream;
  provider(extra?: { baseUrl?: string; headers?: Record<string, string> }): ChatProvider;
  /** No response at all until the client gives up. */
  hang(): void;
  /** A 200 and the start of a JSON body, then nothing until the client gives up. */
  holdBody(): void;
  /** A stream's first text, then nothing until the client gives up. */
  holdStream(): void;
  /** The start of a JSON body, then the connection drops. */
  cutBody(): void;
  /** Exactly these bytes as the next answer (a 200 of this content type). */
  raw(contentType: string, pieces: Array<string | Uint8Array>, extra?: { headers?: Record<string, string>; hold?: boolean }): void;
}

const MB = 1024 * 1024;
/** One megabyte of JSON string content, sent again and again (one buffer, so the test holds little). */
const MEGABYTE_OF_TEXT = Buffer.alloc(MB, "x");
/** One megabyte of an SSE comment line, which the client drops but still has to read. */
const MEGABYTE_OF_COMMENT = Buffer.concat([Buffer.from(": "), Buffer.alloc(MB - 3, "x"), Buffer.from("\n")]);

const ANTHROPIC_KEY = "sk-ant-test-key";
let claude: FakeAnthropicServer;
let wire: FakeOpenAIServer;
beforeAll(async () => {
  [claude, wire] = await Promise.all([startFakeAnthropic({ apiKey: ANTHROPIC_KEY }), startFakeOpenAI({ name: "wire" })]);
});
afterAll(async () => Promise.all([claude.close(), wire.close()]));
afterEach(() => {
  claude.requests.length = 0;
  wire.requests.length = 0;
  wire.setDefault({ kind: "ok" });
});

const anthropic = (): Harness => ({
  upstream: claude,
  provider: (extra = {}) => createAnthropicProvider({ id: "claude", baseUrl: claude.url, apiKey: ANTHROPIC_KEY, model: "claude-test", ...extra }),
  hang: () => claude.enqueue({ kind: "hang" }),
  holdBody: () => claude.enqueue({ kind: "raw", contentType: "application/json", pieces: ['{"type":"message","content":['], hold: true }),
  holdStream: () =>
    claude.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        anthropicEvent("message_start", { message: { model: "claude-test", usage: { input_tokens: 4, output_tokens: 1 } } }),
        anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Hi" } }),
      ],
      hold: true,
    }),
  cutBody: () => claude.enqueue({ kind: "raw", contentType: "application/json", pieces: ['{"type":"message","content":['], cut: true }),
  raw: (contentType, pieces, extra = {}) => claude.enqueue({ kind: "raw", contentType, pieces, ...extra }),
});

const openAICompatible = (): Harness => ({
  upstream: wire,
  provider: (extra = {}) => createOpenAICompatibleProvider({ id: "wire", baseUrl: wire.url, apiKey: "sk-wire", model: "wire-1", configured: true, embeddings: true, ...extra }),
  hang: () => wire.enqueue({ kind: "slow", delayMs: 30_000 }),
  holdBody: () => wire.enqueue({ kind: "raw", contentType: "application/json", pieces: ['{"choices":['], hold: true }),
  holdStream: () => wire.enqueue({ kind: "stall", afterChunks: 1 }),
  cutBody: () => wire.enqueue({ kind: "cut", afterChunks: 0 }),
  raw: (contentType, pieces, extra = {}) => wire.enqueue({ kind: "raw", contentType, pieces, ...extra }),
});

/** Text in either shape a provider streams it: Anthropic's deltas or OpenAI's choices. */
const textOf = (chunks: ProviderChunk[]) => chunks.map((c) => (c.type === "delta" ? c.text : c.type === "choice" ? (c.choice.delta.content ?? "") : "")).join("");

/** A whole-answer call aborted while the upstream holds it (as `hold` queued): it settles as aborted and the upstream sees the client go. */
const abortWhileHeld = (hold: (h: Harness) => void) => async (h: Harness) => {
  const caller = new AbortController();
  hold(h);
  const pending = failure(h.provider().complete(ask({ signal: caller.signal })));
  await h.upstream.waitForRequests(1);
  caller.abort();
  expect(await pending).toMatchObject({ kind: "aborted" });
  await h.upstream.waitForAbort(0);
};

const CASES: Array<{ name: string; run: (h: Harness) => Promise<void> }> = [
  {
    name: "abort: already aborted, nothing is sent",
    run: async (h) => {
      expect(await failure(h.provider().complete(ask({ signal: AbortSignal.abort() })))).toMatchObject({ kind: "aborted" });
      expect(h.upstream.requests).toHaveLength(0);
    },
  },
  { name: "abort: before the response, the upstream request is dropped", run: abortWhileHeld((h) => h.hang()) },
  { name: "abort: mid-body, the upstream request is dropped", run: abortWhileHeld((h) => h.holdBody()) },
  {
    name: "abort: mid-stream, after text arrived, the upstream request is dropped",
    run: async (h) => {
      const midStream = new AbortController();
      h.holdStream();
      const chunks: ProviderChunk[] = [];
      const streamed = (async () => {
        for await (const c of h.provider().stream(ask({ signal: midStream.signal }))) {
          chunks.push(c);
          if (textOf(chunks)) midStream.abort();
        }
      })();
      expect(await failure(streamed)).toMatchObject({ kind: "aborted" });
      await h.upstream.waitForAbort(0);
    },
  },
  {
    name: "a refused connection is a connection_error naming the cause",
    run: async (h) => {
      const p = h.provider({ baseUrl: await closedPortUrl() });
      const error = await failure(p.complete(ask()));
      expect(error).toMatchObject({ kind: "connection_error" });
      expect(error?.message).toContain("ECONNREFUSED");
      expect((await collect(p)).error?.message).toContain("ECONNREFUSED");
    },
  },
  {
    name: "a whole body cut midway is a connection_error, never a partial answer",
    run: async (h) => {
      h.cutBody();
      expect(await failure(h.provider().complete(ask()))).toMatchObject({ kind: "connection_error" });
    },
  },
  {
    // An endless body would be held in memory until the process ran out of it.
    name: "a whole answer past its bound is malformed and not read to its end: the upstream request is dropped",
    run: async (h) => {
      const pieces = [`{"content":"`, ...Array<Buffer>(MAX_REPLY_BYTES / MB + 1).fill(MEGABYTE_OF_TEXT)];
      h.raw("application/json", pieces, { hold: true });
      const error = await failure(h.provider().complete(ask()));
      expect(error).toMatchObject({ kind: "malformed" });
      expect(error?.message).toContain(`larger than ${MAX_REPLY_BYTES / MB} MB`);
      await h.upstream.waitForAbort(0);
    },
  },
  {
    name: "a whole answer declaring a length past the bound is refused before its body is read",
    run: async (h) => {
      h.raw("application/json", ['{"content":"'], { headers: { "content-length": String(MAX_REPLY_BYTES + 1) }, hold: true });
      expect(await failure(h.provider().complete(ask()))).toMatchObject({ kind: "malformed" });
      await h.upstream.waitForAbort(0);
    },
  },
  {
    // Comments only: what a stream builds as it passes (its text, a cached copy) grows with it.
    name: "a stream past its bound is cut as malformed: the upstream request is dropped",
    run: async (h) => {
      h.raw("text/event-stream", Array<Buffer>(MAX_STREAM_BYTES / MB + 1).fill(MEGABYTE_OF_COMMENT), { hold: true });
      const streamed = await collect(h.provider());
      expect(streamed.error).toMatchObject({ kind: "malformed" });
      expect(streamed.error?.message).toContain(`stream larger than ${MAX_STREAM_BYTES / MB} MB`);
      await h.upstream.waitForAbort(0);
    },
  },
  {
    name: "a configured header that HTTP cannot carry fails the call, not the process",
    run: async (h) => {
      const error = await failure(h.provider({ headers: { "x-bad": "line\r\nbreak" } }).complete(ask()));
      expect(error).toMatchObject({ kind: "connection_error" });
    },
  },
];

describe.each([
  { kind: "anthropic", harness: anthropic },
  { kind: "openai-compatible", harness: openAICompatible },
])("$kind", ({ harness }) => {
  it.each(CASES)("$name", ({ run }) => run(harness()));
});
