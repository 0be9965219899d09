/**
 * The Anthropic provider against a real local server speaking the Messages API: what it
 * sends (URL, headers, body), and how every kind of answer and failure is classified.
 * Aborts and connection failures, alike for every provider kind, are in transport-failures.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { anthropicError, anthropicEvent, startFakeAnthropic, type FakeAnthropicServer } from "../../test/fake-anthropic-server.ts";
import { createAnthropicProvider, type AnthropicConfig } from "./anthropic.ts";
import type { ChatProvider, ProviderChunk } from "./types.ts";
import { ask, collect, failure } from "../../test/provider-calls.ts";

const KEY = "sk-ant-test-key";
let claude: FakeAnthropicServer;
beforeAll(async () => void (claude = await startFakeAnthropic({ apiKey: KEY })));
afterAll(async () => claude.close());
afterEach(() => void (claude.requests.length = 0));

const provider = (extra: Partial<AnthropicConfig> = {}): ChatProvider =>
  createAnthropicProvider({ id: "claude", baseUrl: claude.url, apiKey: KEY, model: "claude-test", ...extra });

const textOf = (chunks: ProviderChunk[]) => chunks.map((c) => (c.type === "delta" ? c.text : "")).join("");
const sse = (...pieces: string[]) => ({ kind: "raw" as const, contentType: "text/event-stream", pieces });
const start = anthropicEvent("message_start", { message: { model: "claude-test", usage: { input_tokens: 4, output_tokens: 1 } } });
const text = (words: string) => anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: words } });
const stop = anthropicEvent("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } });

describe("what is sent", () => {
  it("posts the translated body to {base}/v1/messages with the key, the API version and the configured headers, without sampling parameters", async () => {
    const p = provider({ headers: { "X-Team": "blue", "anthropic-beta": "tools-2099" } });
    // The API version refuses temperature and top_p (even at their defaults): the answer is a 200 only when they are left out.
    const passthrough = { messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], stop: "END", temperature: 1, top_p: 0.9 };
    await p.complete(ask({ passthrough, temperature: 0.2, maxTokens: 9 }));
    const sent = claude.requests[0]!;
    expect(sent.path).toBe("/v1/messages");
    expect(sent.headers).toMatchObject({
      authorization: `Bearer ${KEY}`,
      "anthropic-version": "2026-10-21",
      "content-type": "application/json",
      "x-team": "blue",
      "anthropic-beta": "tools-2099",
    });
    expect(sent.body).toEqual({
      model: "claude-test",
      max_tokens: 9,
      system: "be brief",
      stop_sequences: ["END"],
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    });
  });

  it("an OpenAI response_format is asked for in the system prompt (json_schema with its schema, json_object)", async () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const messages = [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }];
    await provider().complete(ask({ passthrough: { messages, response_format: { type: "json_schema", json_schema: { name: "place", schema } } } }));
    await provider().complete(ask({ passthrough: { messages, response_format: { type: "json_object" } } }));
    await provider().complete(ask({ passthrough: { messages, response_format: { type: "text" } } }));
    const systems = claude.requests.map((r) => String(r.body.system));
    expect(systems[0]).toBe(`be brief\n\nReply with one JSON object matching this JSON schema, and nothing else:\n${JSON.stringify(schema)}`);
    expect(systems[1]).toBe("be brief\n\nReply with one JSON object, and nothing else.");
    expect(systems[2]).toBe("be brief");
    expect(claude.requests.every((r) => !("response_format" in r.body))).toBe(true);
  });

  it("n > 1 is refused as unsupported before any call (one message per call), on both paths", async () => {
    const passthrough = { messages: [{ role: "user", content: "hi" }], n: 2 };
    expect(await failure(provider().complete(ask({ passthrough })))).toMatchObject({ kind: "unsupported", param: "n" });
    expect((await collect(provider(), ask({ passthrough }))).error).toMatchObject({ kind: "unsupported", param: "n" });
    expect(claude.requests).toHaveLength(0);
    await provider().complete(ask({ passthrough: { ...passthrough, n: 1 } }));
    expect(claude.requests).toHaveLength(1);
  });

  it("a base URL given with /v1 or a trailing slash reaches the same path", async () => {
    await provider({ baseUrl: `${claude.url}/v1/` }).complete(ask());
    await provider({ baseUrl: `${claude.url}/` }).complete(ask());
    expect(claude.requests.map((r) => r.path)).toEqual(["/v1/messages", "/v1/messages"]);
  });

  it("streams with stream: true; structured output is asked for in the system prompt", async () => {
    await collect(provider(), ask({ responseFormat: { name: "answer", schema: { type: "object" } } }));
    expect(claude.requests[0]!.body).toMatchObject({ stream: true, max_tokens: 4096 });
    expect(claude.requests[0]!.body.system).toContain('{"type":"object"}');
  });

  it("no key, no credential header: the upstream's 401 comes back as an http_error", async () => {
    const error = await failure(provider({ apiKey: undefined }).complete(ask()));
    expect(claude.requests[0]!.headers.authorization).toBeUndefined();
    expect(error).toMatchObject({ kind: "http_error", status: 401 });
    expect(error?.message).toBe("upstream answered 401: invalid x-api-key");
  });
});

describe("answers", () => {
  it("a whole answer: text, finish reason, model and usage (cache reads counted as prompt tokens)", async () => {
    const answer = await provider().complete(ask());
    expect(answer).toMatchObject({
      content: "Hello from the fake Claude",
      finishReason: "stop",
      model: "claude-test",
      usage: { promptTokens: 15, completionTokens: 5 },
      choices: [{ index: 0, message: { role: "assistant", content: "Hello from the fake Claude" }, finish_reason: "stop" }],
    });
  });

  it("a stream: text deltas, the finish (with Anthropic's own stop reason) and usage, pings and unknown events skipped", async () => {
    claude.enqueue(sse(start, anthropicEvent("ping"), text("Hel"), ": comment\n\n", text("lo"), stop, anthropicEvent("some_future_event"), anthropicEvent("message_stop")));
    const { chunks, error } = await collect(provider());
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe("Hello");
    expect(chunks.slice(-2)).toEqual([
      { type: "choice", choice: { index: 0, delta: {}, finish_reason: "stop", anthropic_stop: { stop_reason: "end_turn", stop_sequence: null } } },
      { type: "usage", usage: { promptTokens: 4, completionTokens: 2, details: { prompt_tokens_details: { cached_tokens: 0 } } } },
    ]);
  });

  it("tool calls come back as OpenAI tool_calls, whole and streamed", async () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
    const passthrough = { messages: [{ role: "user", content: "weather in Paris?" }], tools };
    const whole = await provider().complete(ask({ passthrough }));
    expect(whole.finishReason).toBe("tool_calls");
    expect(whole.choices?.[0]?.message).toMatchObject({ content: null, tool_calls: [{ id: "toolu_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] });
    const { chunks } = await collect(provider(), ask({ passthrough }));
    const calls = chunks.flatMap((c) => (c.type === "choice" ? ((c.choice.delta.tool_calls ?? []) as Array<{ function: { arguments: string } }>) : []));
    expect(calls.map((c) => c.function.arguments).join("")).toBe('{"city":"Paris"}');
  });

  it("a streamed tool call without parameters gets the arguments {} (Anthropic streams no JSON for it), as the whole answer does", async () => {
    const toolStart = anthropicEvent("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_02", name: "get_time", input: {} } });
    const blockStop = anthropicEvent("content_block_stop", { index: 0 });
    const toolStop = anthropicEvent("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 3 } });
    claude.enqueue(sse(start, toolStart, blockStop, toolStop, anthropicEvent("message_stop")));
    const { chunks, error } = await collect(provider());
    expect(error).toBeUndefined();
    const calls = chunks.flatMap((c) => (c.type === "choice" ? ((c.choice.delta.tool_calls ?? []) as Array<{ index: number; function: { name?: string; arguments: string } }>) : []));
    expect(calls.map((c) => c.index)).toEqual([0, 0]);
    expect(calls[0]!.function.name).toBe("get_time");
    expect(calls.map((c) => c.function.arguments).join("")).toBe("{}");
  });

  it("an error event mid-stream is an http_error with Anthropic's message, after the text already sent", async () => {
    claude.enqueue(sse(start, text("Hi"), `event: error\ndata: ${anthropicError("overloaded_error", "Overloaded")}\n\n`));
    const { chunks, error } = await collect(provider());
    expect(textOf(chunks)).toBe("Hi");
    expect(error).toMatchObject({ kind: "http_error", status: undefined, message: "upstream sent an error event: Overloaded" });
  });

  it("a stream cut, or ended before the stop reason, is a connection_error; an event that is not JSON is malformed", async () => {
    claude.enqueue({ ...sse(start, text("Hi")), cut: true });
    expect((await collect(provider())).error).toMatchObject({ kind: "connection_error" });
    claude.enqueue(sse(start, text("Hi")));
    expect((await collect(provider())).error).toMatchObject({ kind: "connection_error" });
    claude.enqueue(sse(start, "event: content_block_delta\ndata: {not json\n\n"));
    expect((await collect(provider())).error).toMatchObject({ kind: "malformed" });
  });

  it("a truncated body, an HTML page or JSON that is not a message is malformed", async () => {
    claude.enqueue({ kind: "raw", contentType: "application/json", pieces: ['{"type":"message","content":[{"type":"te'] });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "malformed" });
    claude.enqueue({ kind: "raw", contentType: "text/html", pieces: ["<html><body>Bad gateway</body></html>"] });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "malformed" });
    claude.enqueue({ kind: "raw", contentType: "application/json", pieces: ['{"type":"message"}'] });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "malformed" });
  });
});

describe("failures", () => {
  it("non-2xx: http_error with the status and Anthropic's message, on both paths; 529 is overloaded", async () => {
    claude.enqueue({ kind: "status", status: 400, body: anthropicError("invalid_request_error", "max_tokens: too large") });
    const error = await failure(provider().complete(ask()));
    expect(error).toMatchObject({ kind: "http_error", status: 400, message: "upstream answered 400: max_tokens: too large" });
    // Carried in OpenAI's shape, for a pass-through caller (the OpenAI-protocol providers carry theirs as sent).
    expect(error?.upstream).toEqual({ message: "max_tokens: too large", type: "invalid_request_error", param: null, code: null });
    claude.enqueue({ kind: "status", status: 529 });
    expect((await collect(provider())).error).toMatchObject({ kind: "http_error", status: 529, message: "upstream answered 529: Overloaded" });
    claude.enqueue({ kind: "status", status: 502, body: "<html>bad gateway</html>" });
    const bare = await failure(provider().complete(ask()));
    expect(bare).toMatchObject({ kind: "http_error", status: 502, upstream: undefined });
    expect(bare?.message).toContain("bad gateway");
  });

  it("429: rate_limited with Retry-After in ms, on both paths", async () => {
    claude.enqueue({ kind: "status", status: 429, retryAfter: "2" });
    expect(await failure(provider().complete(ask()))).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: 2000 });
    claude.enqueue({ kind: "status", status: 429 });
    expect((await collect(provider())).error).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: undefined });
  });
});
