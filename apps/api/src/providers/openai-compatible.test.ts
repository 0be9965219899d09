/**
 * The OpenAI-protocol provider against a real local server speaking that protocol: what it
 * sends (URL, headers, body), and how every kind of answer and failure is classified.
 * Aborts and connection failures, alike for every provider kind, are in transport-failures.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { createOpenAICompatibleProvider, type OpenAICompatibleConfig } from "./openai-compatible.ts";
import type { ChatProvider, ProviderChunk } from "./types.ts";
import { ask, collect, failure } from "../../test/provider-calls.ts";

let fake: FakeOpenAIServer;
beforeAll(async () => void (fake = await startFakeOpenAI({ name: "wire" })));
afterAll(async () => fake.close());
afterEach(() => {
  fake.requests.length = 0;
  fake.setDefault({ kind: "ok" });
});

const provider = (extra: Partial<OpenAICompatibleConfig> = {}): ChatProvider =>
  createOpenAICompatibleProvider({ id: "wire", baseUrl: fake.url, apiKey: "sk-wire", model: "wire-1", configured: true, embeddings: true, ...extra });

const textOf = (chunks: ProviderChunk[]) => chunks.map((c) => (c.type === "choice" ? (c.choice.delta.content ?? "") : "")).join("");
const sse = (...events: string[]) => events.map((e) => `${e}\n\n`);
const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}`;

describe("what is sent", () => {
  it("posts JSON to {base}/chat/completions with the bearer key, the configured headers and the caller's fields", async () => {
    const p = provider({ headers: { "X-Team": "blue", Accept: "application/json; v=2" } });
    const answer = await p.complete(ask({ passthrough: { messages: [{ role: "user", content: "hi" }], tools: [], seed: 7 }, temperature: 0.2, maxTokens: 9 }));
    expect(answer).toMatchObject({ content: "Hello from wire.", finishReason: "stop", model: "wire-1", usage: { promptTokens: 7, completionTokens: 3 } });
    const sent = fake.requests[0]!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.headers).toMatchObject({ authorization: "Bearer sk-wire", "content-type": "application/json", "x-team": "blue", accept: "application/json; v=2" });
    expect(JSON.parse(sent.raw)).toEqual({ messages: [{ role: "user", content: "hi" }], tools: [], seed: 7, model: "wire-1", temperature: 0.2, max_tokens: 9, stream: false });
  });

  it("sends no credential without a key, and asks a json_object upstream for JSON in a system message", async () => {
    const p = provider({ apiKey: undefined, structuredOutput: "json_object" });
    const passthrough = { messages: [{ role: "user", content: "hi" }] };
    await p.complete(ask({ passthrough, responseFormat: { name: "answer", schema: { type: "object" } } }));
    const sent = fake.requests[0]!;
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body.response_format).toEqual({ type: "json_object" });
    expect(sent.body.messages?.[0]).toMatchObject({ role: "system" });
    // The caller's own array is left as it was.
    expect(passthrough.messages).toHaveLength(1);
  });

  it("Azure: the deployment in the path, the API version in the query, the key as api-key", async () => {
    const endpoint = fake.url.replace(/\/v1$/, "/");
    const p = provider({ baseUrl: endpoint, azure: { apiVersion: "2024-10-21" } });
    await p.complete(ask({ model: "gpt-4o" }));
    await p.embed!({ model: "embed-3", body: { input: "x" }, signal: new AbortController().signal });
    expect(fake.requests.map((r) => r.path)).toEqual([
      "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
      "/openai/deployments/embed-3/embeddings?api-version=2024-10-21",
    ]);
    expect(fake.requests[0]!.headers["api-key"]).toBe("sk-wire");
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("embeddings: POST {base}/embeddings with the caller's fields, data and usage back", async () => {
    const result = await provider().embed!({ model: "embed-1", body: { input: ["a", "bb"], dimensions: 3 }, signal: new AbortController().signal });
    expect(JSON.parse(fake.requests[0]!.raw)).toEqual({ input: ["a", "bb"], dimensions: 3, model: "embed-1" });
    expect(result).toMatchObject({ model: "embed-1", usage: { promptTokens: 4, totalTokens: 4 } });
    expect(result.data).toHaveLength(2);
  });
});

describe("answers", () => {
  it("streams choices and usage, asking for usage whatever the caller's stream_options", async () => {
    const { chunks, error } = await collect(provider(), ask({ passthrough: { messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: false, x: 1 } } }));
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe("Hello from wire.");
    expect(chunks.at(-1)).toEqual({ type: "usage", usage: { promptTokens: 7, completionTokens: 3 } });
    expect(fake.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true, x: 1 } });
  });

  it("SSE: comments and keep-alives are ignored, multi-line data is joined, CRLF works, what follows [DONE] is ignored", async () => {
    fake.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        ": keep-alive\n\n",
        "event: message\r\n" + chunk({ role: "assistant", content: "Hel" }) + "\r\n\r\n",
        // One event split over two writes, and its JSON over two data lines.
        'data: {"choices":[{"index":0,"delta":{"content":"lo"},\n',
        'data: "finish_reason":"stop"}]}\n\n',
        ...sse(": still here", "data: [DONE]", chunk({ content: " ignored" })),
      ],
    });
    const { chunks, error } = await collect(provider());
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe("Hello");
  });

  it("SSE: a character whose UTF-8 bytes arrive in two reads comes through whole", async () => {
    const event = Buffer.from(sse(chunk({ content: "Grüße 🙂" }), chunk({}, "stop"), "data: [DONE]").join(""));
    // Inside the emoji's four bytes.
    const cut = event.indexOf(Buffer.from("🙂")) + 2;
    fake.enqueue({ kind: "raw", contentType: "text/event-stream", pieces: [event.subarray(0, cut), event.subarray(cut)] });
    const { chunks, error } = await collect(provider());
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe("Grüße 🙂");
  });

  it("an error event mid-stream is an http_error carrying the upstream's error", async () => {
    const upstream = { message: "overloaded", type: "server_error", code: "overloaded", param: null };
    fake.enqueue({ kind: "raw", contentType: "text/event-stream", pieces: sse(chunk({ content: "Hi" }), `data: ${JSON.stringify({ error: upstream })}`) });
    const { chunks, error } = await collect(provider());
    expect(textOf(chunks)).toBe("Hi");
    expect(error).toMatchObject({ kind: "http_error", status: undefined, upstream });
    expect(error?.message).toContain("upstream sent an error event: overloaded");
  });

  it("a stream cut or closed before the finish is a connection_error; a data line that is not JSON is malformed", async () => {
    fake.enqueue({ kind: "cut", afterChunks: 1 });
    expect((await collect(provider())).error).toMatchObject({ kind: "connection_error" });
    fake.enqueue({ kind: "no-finish" });
    expect((await collect(provider())).error).toMatchObject({ kind: "connection_error" });
    fake.enqueue({ kind: "malformed" });
    expect((await collect(provider())).error).toMatchObject({ kind: "malformed" });
  });

  it("a truncated body, an HTML page or a body without choices is malformed", async () => {
    fake.enqueue({ kind: "malformed" });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "malformed" });
    fake.enqueue({ kind: "raw", contentType: "text/html", pieces: ["<html><body>Bad gateway</body></html>"] });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "malformed" });
    fake.enqueue({ kind: "raw", contentType: "application/json", pieces: ['{"object":"list"}'] });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "malformed" });
  });
});

describe("failures", () => {
  it("a configured header value the wire cannot carry fails the call as connection_error before anything is sent", async () => {
    const error = await failure(provider({ headers: { "X-Team": "blue\r\nX-Injected: 1" } }).complete(ask()));
    expect(error).toMatchObject({ kind: "connection_error" });
    expect(error?.message).toMatch(/^cannot call upstream: /);
    expect(fake.requests).toHaveLength(0);
  });

  it("non-2xx: http_error with the status and the upstream's OpenAI-shaped error, on both paths", async () => {
    const upstream = { message: "Invalid schema", type: "invalid_request_error", param: "response_format", code: "invalid_json_schema" };
    fake.setDefault({ kind: "status", status: 400, body: JSON.stringify({ error: upstream }) });
    const error = await failure(provider().complete(ask()));
    expect(error).toMatchObject({ kind: "http_error", status: 400, upstream });
    expect(error?.message).toBe("upstream answered 400: Invalid schema");
    expect((await collect(provider())).error).toMatchObject({ kind: "http_error", status: 400, upstream });

    fake.setDefault({ kind: "status", status: 502, body: "<html>bad gateway</html>" });
    const bare = await failure(provider().complete(ask()));
    expect(bare).toMatchObject({ kind: "http_error", status: 502, upstream: undefined });
    expect(bare?.message).toContain("bad gateway");
  });

  it("429: rate_limited with Retry-After in ms (also on embeddings)", async () => {
    fake.enqueue({ kind: "status", status: 429, retryAfter: "2" });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: 2000 });
    fake.enqueue({ kind: "status", status: 429 });
    expect(await failure(provider().embed!({ model: "e", body: { input: "x" }, signal: new AbortController().signal }))).toMatchObject({
      kind: "rate_limited",
      retryAfterMs: undefined,
    });
  });
});
