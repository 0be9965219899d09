/**
 * The OpenAI-compatible surface as agent frameworks use it, driven by the official `openai`
 * SDK against local fake upstreams: every Chat Completions field reaches the provider as
 * sent, and tool calls, refusals, finish reasons, logprobs and usage details come back as
 * the provider answered them, streamed or not.
 */
import OpenAI, { BadRequestError, NotFoundError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let t: TestApp;
let up: Upstreams<"beta" | "openai">;
let token: string;
let sdk: OpenAI;

beforeAll(async () => {
  up = await startUpstreams(["beta", "openai"]);
  t = await startTestApp({ env: { ...up.env, CIRCUIT_FAILURE_THRESHOLD: "2", CHAT_RATE_LIMIT_PER_MIN: "1000" } });
  token = (await t.userWithRole("USER")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
    strict: true,
  },
} as const;

/** Every Chat Completions field an agent framework may send, plus a vendor extension. */
const EVERY_FIELD = {
  tools: [WEATHER_TOOL],
  tool_choice: { type: "function", function: { name: "get_weather" } },
  parallel_tool_calls: false,
  response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object", properties: { a: { type: "number" } } }, strict: true } },
  stop: ["\n\n", "END"],
  seed: 42,
  top_p: 0.9,
  temperature: 0.3,
  frequency_penalty: 0.5,
  presence_penalty: -0.25,
  logit_bias: { "50256": -100 },
  logprobs: true,
  top_logprobs: 3,
  n: 1,
  user: "user-1234",
  metadata: { run: "conformance" },
  // Above what many models can write: the provider judges its model's limit, not the gateway.
  max_completion_tokens: 100_000,
  reasoning_effort: "low",
  store: false,
  service_tier: "auto",
  vendor_extension: { top_k: 40, nested: [1, "two", null] },
} as const;

const CONVERSATION = [
  { role: "developer", content: "You are terse." },
  {
    role: "user",
    content: [
      { type: "text", text: "What is in this picture, and the weather in Paris?" },
      { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } },
      { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
    ],
  },
  { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
  { role: "tool", tool_call_id: "call_1", content: '{"temp":21}' },
];

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("request pass-through", () => {
  it("forwards every field and message byte for byte; only model is the gateway's", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: '{"a":1}' });
    const body = { model: "beta/my-model", messages: CONVERSATION, ...EVERY_FIELD };
    const res = await post("/v1/chat/completions", body);
    expect(res.status).toBe(200);
    const received = up.fakes.beta.requests[0]!;
    const sent = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
    for (const [field, value] of Object.entries(sent)) {
      if (field === "model") continue;
      expect(JSON.stringify(received.body[field]), field).toBe(JSON.stringify(value));
    }
    expect(received.body.model).toBe("my-model");
    expect(received.body.stream).toBe(false);
  });

  it("takes a request without a user message (a system prompt alone, or an assistant turn to continue), as OpenAI does", async () => {
    for (const messages of [[{ role: "system", content: "Write a haiku about gateways." }], [{ role: "assistant", content: "Once upon a time" }]]) {
      up.fakes.beta.enqueue({ kind: "ok", content: "Done." });
      const res = await post("/v1/chat/completions", { model: "beta", messages });
      expect(res.status, JSON.stringify(messages)).toBe(200);
      expect(up.fakes.beta.requests.at(-1)!.body.messages).toEqual(messages);
    }
  });

  it("streams: stream_options reach the provider with include_usage forced on, the rest as sent", async () => {
    const body = { model: "beta", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: false, vendor: 1 }, ...EVERY_FIELD };
    const res = await post("/v1/chat/completions", body);
    const text = await res.text();
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    // The client did not ask for usage: no usage chunk reaches it, though the gateway counted it.
    expect(text).not.toContain('"usage"');
    const received = up.fakes.beta.requests[0]!.body;
    expect(received.stream_options).toEqual({ include_usage: true, vendor: 1 });
    for (const [field, value] of Object.entries(EVERY_FIELD)) expect(JSON.stringify(received[field]), field).toBe(JSON.stringify(value));
  });

  it("malformed tools and messages are 400s in OpenAI's shape naming the param", async () => {
    const cases: Array<[unknown, string]> = [
      [{ model: "auto", messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools.0.function.name"],
      [{ model: "auto", messages: [{ role: "user", content: "x" }], tools: [{ type: "function" }] }, "tools.0.function"],
      [{ model: "auto", messages: [{ role: "user", content: "x" }], tool_choice: { type: "function" } }, "tool_choice"],
      [{ model: "auto", messages: [{ role: "user", content: "x" }, { role: "tool", content: "42" }] }, "messages.1.tool_call_id"],
      [{ model: "auto", messages: [{ role: "user", content: [{ type: "video", url: "x" }] }] }, "messages.0.content"],
      [{ model: "auto", messages: [{ role: "wizard", content: "x" }] }, "messages.0.role"],
      [{ model: "auto", messages: [{ role: "user", content: "x" }], n: 99 }, "n"],
      [{ model: "auto", messages: [{ role: "user", content: "x" }], max_tokens: 2_000_000 }, "max_tokens"],
      [{ model: "auto", messages: [{ role: "user", content: "x" }], response_format: { type: "json_schema" } }, "response_format.json_schema"],
    ];
    for (const [body, param] of cases) {
      const res = await post("/v1/chat/completions", body);
      expect(res.status, param).toBe(400);
      const error = ((await res.json()) as { error: Record<string, unknown> }).error;
      expect(error.type, param).toBe("invalid_request_error");
      expect(String(error.param), param).toContain(param);
      expect(error.message).toEqual(expect.any(String));
    }
    expect(up.fakes.beta.requests).toHaveLength(0);
  });

  it("an empty content array is a 400 naming the message, as OpenAI's own schema refuses it; never forwarded", async () => {
    const user = { role: "user", content: "hi" };
    const toolCalls = [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }];
    const toolAnswer = { role: "tool", tool_call_id: "call_1", content: '{"temp":21}' };
    const cases: Array<[unknown[], string]> = [
      [[{ role: "user", content: [] }], "messages.0.content"],
      [[{ role: "system", content: [] }, user], "messages.0.content"],
      [[{ role: "developer", content: [] }, user], "messages.0.content"],
      [[user, { role: "assistant", content: [] }, user], "messages.1.content"],
      [[user, { role: "assistant", content: [], tool_calls: toolCalls }, toolAnswer], "messages.1.content"],
      [[user, { role: "assistant", content: null, tool_calls: toolCalls }, { ...toolAnswer, content: [] }], "messages.2.content"],
    ];
    for (const [messages, param] of cases) {
      const res = await post("/v1/chat/completions", { model: "beta", messages });
      expect(res.status, JSON.stringify(messages)).toBe(400);
      expect(await res.json(), JSON.stringify(messages)).toEqual({
        error: { message: `${param}: empty array: expected a string or at least one content part`, type: "invalid_request_error", param, code: "bad_request" },
      });
    }
    // The official SDK raises its 400 class for it.
    await expect(sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: [] }] })).rejects.toBeInstanceOf(BadRequestError);
    expect(up.fakes.beta.requests).toHaveLength(0);

    // An assistant turn that only called tools (content null or absent) still goes through.
    for (const assistant of [{ role: "assistant", content: null, tool_calls: toolCalls }, { role: "assistant", tool_calls: toolCalls }]) {
      up.fakes.beta.enqueue({ kind: "ok", content: "21 degrees" });
      const res = await post("/v1/chat/completions", { model: "beta", messages: [user, assistant, toolAnswer] });
      expect(res.status, JSON.stringify(assistant)).toBe(200);
    }
    expect(up.fakes.beta.requests).toHaveLength(2);
  });

  it("a provider's 4xx caused by the request is passed through as sent: no fallback, no open circuit", async () => {
    const refusal = { error: { message: "Invalid schema for response_format 'answer'", type: "invalid_request_error", param: "response_format", code: "invalid_json_schema" } };
    up.fakes.beta.setDefault({ kind: "status", status: 400, body: JSON.stringify(refusal) });
    for (let i = 0; i < 3; i++) {
      const error = (await sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as BadRequestError;
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error.error).toEqual(refusal.error);
    }
    // Streamed requests too: the refusal comes before any chunk, as a real status.
    const streamed = await post("/v1/chat/completions", { model: "auto", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(streamed.status).toBe(400);
    expect(await streamed.json()).toEqual(refusal);
    // Neither fallback nor circuit (threshold 2): openai was never asked, and beta still takes requests.
    expect(up.fakes.openai.requests).toHaveLength(0);
    expect(up.fakes.beta.requests).toHaveLength(4);

    up.fakes.beta.setDefault({ kind: "status", status: 422, body: JSON.stringify({ error: { message: "unprocessable", type: "invalid_request_error", param: "tools", code: null } }) });
    const unprocessable = await post("/v1/chat/completions", { model: "auto", messages: [{ role: "user", content: "hi" }] });
    expect(unprocessable.status).toBe(422);
    expect(await unprocessable.json()).toEqual({ error: { message: "unprocessable", type: "invalid_request_error", param: "tools", code: null } });

    up.fakes.beta.setDefault({ kind: "status", status: 404, body: JSON.stringify({ error: { message: "The model 'nope' does not exist", type: "invalid_request_error", param: null, code: "model_not_found" } }) });
    const missing = (await sdk.chat.completions.create({ model: "beta/nope", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as NotFoundError;
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.code).toBe("model_not_found");

    // A 401 or 5xx is the provider's problem: fall back.
    up.fakes.beta.setDefault({ kind: "status", status: 401 });
    const ok = await sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(ok.response.headers.get("x-switchboard-attempts")).toBe("beta:http_error,openai:success");
  });
});

describe("answers as the provider sent them", () => {
  it("non-stream tool calls: a success, with finish_reason tool_calls, usage details and fingerprint", async () => {
    up.fakes.beta.enqueue({
      kind: "ok",
      toolCalls: [
        { id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}' },
        { id: "call_b", name: "get_weather", arguments: '{"city":"Rome"}' },
      ],
      systemFingerprint: "fp_123",
      usageDetails: { prompt_tokens_details: { cached_tokens: 3 }, completion_tokens_details: { reasoning_tokens: 2 } },
    });
    const { data, response } = await sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "weather?" }], tools: [WEATHER_TOOL] }).withResponse();
    expect(response.headers.get("x-switchboard-attempts")).toBe("beta:success");
    expect(data.choices[0]!.finish_reason).toBe("tool_calls");
    expect(data.choices[0]!.message.content).toBeNull();
    expect(data.choices[0]!.message.tool_calls).toEqual([
      { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
      { id: "call_b", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
    ]);
    expect(data.system_fingerprint).toBe("fp_123");
    expect(data.usage).toEqual({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 3 }, completion_tokens_details: { reasoning_tokens: 2 } });
  });

  it("streamed tool calls arrive as indexed delta.tool_calls fragments that the SDK reassembles", async () => {
    up.fakes.beta.enqueue({ kind: "ok", toolCalls: [{ id: "call_s", name: "get_weather", arguments: '{"city":"Lisbon","unit":"c"}' }] });
    const runner = sdk.chat.completions.stream({ model: "auto", messages: [{ role: "user", content: "weather?" }], tools: [WEATHER_TOOL], stream_options: { include_usage: true } });
    const fragments: unknown[] = [];
    runner.on("chunk", (chunk) => {
      const calls = chunk.choices[0]?.delta.tool_calls;
      if (calls) fragments.push(...calls);
    });
    const final = await runner.finalChatCompletion();
    expect(fragments.length).toBeGreaterThan(3);
    expect(fragments[0]).toMatchObject({ index: 0, id: "call_s", function: { name: "get_weather" } });
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    // The SDK adds parsed_arguments for strict tools: it parsed what the gateway streamed.
    expect(final.choices[0]!.message.tool_calls).toMatchObject([{ id: "call_s", type: "function", function: { name: "get_weather", arguments: '{"city":"Lisbon","unit":"c"}' } }]);
    expect(final.usage?.total_tokens).toBe(12);
  });

  it("parallel calls from a server that streams them without index still reach the SDK as separate calls", async () => {
    // Gemini's compatibility endpoint and some local servers leave `index` out of tool-call pieces.
    const sse = (choices: unknown[]) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices })}\n\n`;
    const piece = (call: Record<string, unknown>) => sse([{ index: 0, delta: { tool_calls: [call] }, finish_reason: null }]);
    up.fakes.beta.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        sse([{ index: 0, delta: { role: "assistant", content: null }, finish_reason: null }]),
        piece({ id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }),
        piece({ function: { arguments: '{"city":"Oslo"}' } }),
        piece({ id: "call_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } }),
        sse([{ index: 0, delta: {}, finish_reason: "tool_calls" }]),
        "data: [DONE]\n\n",
      ],
    });
    const final = await sdk.chat.completions.stream({ model: "auto", messages: [{ role: "user", content: "weather in Oslo and Rome?" }], tools: [WEATHER_TOOL] }).finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls).toMatchObject([
      { id: "call_1", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
      { id: "call_2", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
    ]);
  });

  it("a vendor's own top-level fields (citations, service_tier) reach the client, streamed or not; the gateway's id and model stay its own", async () => {
    const vendor = { citations: ["https://example.org/a"], search_results: [{ title: "A", url: "https://example.org/a" }], service_tier: "default" };
    const answer = { id: "upstream-id", object: "chat.completion", created: 1, model: "sonar", ...vendor, choices: [{ index: 0, message: { role: "assistant", content: "Cited." }, finish_reason: "stop" }] };
    up.fakes.beta.enqueue({ kind: "raw", contentType: "application/json", pieces: [JSON.stringify(answer)] });
    const whole = (await sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "q" }] })) as unknown as Record<string, unknown>;
    expect(whole).toMatchObject({ ...vendor, object: "chat.completion", model: "sonar" });
    expect(whole["id"]).not.toBe("upstream-id");

    const sse = (chunk: Record<string, unknown>) => `data: ${JSON.stringify({ id: "upstream-id", object: "chat.completion.chunk", created: 1, model: "sonar", ...chunk })}\n\n`;
    up.fakes.beta.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        sse({ ...vendor, obfuscation: "xyz", choices: [{ index: 0, delta: { role: "assistant", content: "Cited." }, finish_reason: null }] }),
        sse({ ...vendor, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }),
        "data: [DONE]\n\n",
      ],
    });
    const chunks: Array<Record<string, unknown>> = [];
    for await (const chunk of await sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "q" }], stream: true })) chunks.push(chunk as unknown as Record<string, unknown>);
    expect(chunks.at(-1)).toMatchObject(vendor);
    expect(chunks.every((c) => c["id"] !== "upstream-id" && !("obfuscation" in c))).toBe(true);
  });

  it("finish_reason length and content_filter reach the client, streamed or not", async () => {
    for (const reason of ["length", "content_filter"]) {
      up.fakes.beta.enqueue({ kind: "ok", content: "cut short", finishReason: reason }, { kind: "ok", content: "cut short", finishReason: reason });
      const whole = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "long" }] });
      expect(whole.choices[0]!.finish_reason).toBe(reason);
      const stream = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "long" }], stream: true });
      let finish: string | null = null;
      for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish;
      expect(finish).toBe(reason);
    }
  });

  it("a server that ends its stream with [DONE] but names no finish reason has answered: finish_reason stop, [DONE], and a completed response", async () => {
    const chunk = (delta: object) => `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    const withoutFinish = { kind: "raw" as const, contentType: "text/event-stream", pieces: [chunk({ role: "assistant", content: "Done " }), chunk({ content: "anyway." }), "data: [DONE]\n\n"] };
    up.fakes.beta.enqueue(withoutFinish, withoutFinish);
    const final = await sdk.chat.completions.stream({ model: "beta", messages: [{ role: "user", content: "hi" }] }).finalChatCompletion();
    expect(final.choices[0]).toMatchObject({ message: { content: "Done anyway." }, finish_reason: "stop" });
    const response = await sdk.responses.stream({ model: "beta", input: "hi" }).finalResponse();
    expect(response).toMatchObject({ status: "completed", output_text: "Done anyway." });
    // Closed without [DONE] and without a finish reason, a stream was cut: still an error.
    up.fakes.beta.enqueue({ kind: "no-finish", content: "cut off" });
    await expect(sdk.chat.completions.stream({ model: "beta", messages: [{ role: "user", content: "hi" }] }).finalChatCompletion()).rejects.toThrow("before the answer finished");
  });

  it("with n = 2, [DONE] stops the choice that named no finish reason though the other named one: streamed, through the SDK, and kept whole for a non-streamed repeat", async () => {
    const chunk = (index: number, delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index, delta, finish_reason: finish }] })}\n\n`;
    const oneUnnamed = {
      kind: "raw" as const,
      contentType: "text/event-stream",
      pieces: [chunk(0, { role: "assistant", content: "First." }), chunk(1, { role: "assistant", content: "Second." }), chunk(0, {}, "stop"), "data: [DONE]\n\n"],
    };
    up.fakes.beta.enqueue(oneUnnamed, oneUnnamed);
    const ask = { model: "beta", n: 2, messages: [{ role: "user" as const, content: "two ways" }] };

    const res = await post("/v1/chat/completions", { ...ask, stream: true });
    const finishes = (await res.text())
      .split("\n\n")
      .filter((block) => block.startsWith("data: {"))
      .flatMap((block) => (JSON.parse(block.slice(6)) as { choices: Array<{ index: number; finish_reason: string | null }> }).choices)
      .filter((c) => c.finish_reason)
      .map((c) => [c.index, c.finish_reason]);
    expect(finishes).toEqual([[0, "stop"], [1, "stop"]]);

    // Kept by the response cache only when every choice finished; a non-streamed repeat is then answered from it.
    const cached = { headers: { "x-switchboard-cache-ttl": "60" } };
    const final = await sdk.chat.completions.stream(ask, cached).finalChatCompletion();
    expect(final.choices.map((c) => [c.message.content, c.finish_reason])).toEqual([["First.", "stop"], ["Second.", "stop"]]);
    const asked = up.fakes.beta.requests.length;
    const whole = await sdk.chat.completions.create(ask, cached);
    expect(whole.choices.map((c) => [c.message.content, c.finish_reason])).toEqual([["First.", "stop"], ["Second.", "stop"]]);
    expect(up.fakes.beta.requests.length).toBe(asked);
  });

  it("refusals, logprobs and vendor fields (reasoning_content) pass through", async () => {
    up.fakes.beta.enqueue({ kind: "ok", refusal: "I can't help with that." });
    const refused = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "bad" }] });
    expect(refused.choices[0]!.message.refusal).toBe("I can't help with that.");
    expect(refused.choices[0]!.message.content).toBeNull();

    up.fakes.beta.enqueue({ kind: "ok", refusal: "No." });
    const streamedRefusal = await sdk.chat.completions.stream({ model: "beta", messages: [{ role: "user", content: "bad" }] }).finalChatCompletion();
    expect(streamedRefusal.choices[0]!.message.refusal).toBe("No.");

    up.fakes.beta.enqueue({ kind: "ok", content: "two words", logprobs: true, extra: { reasoning_content: "thinking" } });
    const withLogprobs = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "hi" }], logprobs: true });
    expect(withLogprobs.choices[0]!.logprobs?.content?.map((l) => l.token)).toEqual(["two ", "words"]);
    expect((withLogprobs.choices[0]!.message as unknown as Record<string, unknown>)["reasoning_content"]).toBe("thinking");

    up.fakes.beta.enqueue({ kind: "ok", content: "two words", logprobs: true });
    const stream = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "hi" }], logprobs: true, stream: true });
    const tokens: string[] = [];
    for await (const chunk of stream) tokens.push(...(chunk.choices[0]?.logprobs?.content ?? []).map((l) => l.token));
    expect(tokens).toEqual(["two ", "words"]);
  });

  it("n > 1 passes through: every choice comes back, streamed or not", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "Answer", finishReason: "stop" });
    const whole = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "hi" }], n: 3 });
    expect(whole.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, "Answer"],
      [1, "Answer (choice 1)"],
      [2, "Answer (choice 2)"],
    ]);
    const final = await sdk.chat.completions.stream({ model: "beta", messages: [{ role: "user", content: "hi" }], n: 2 }).finalChatCompletion();
    expect(final.choices.map((c) => c.message.content)).toEqual(["Answer", "Answer (choice 1)"]);
  });

  it("with n = 2 from a server that sends no role, each choice gets one role delta before its first content, on the wire and through the SDK", async () => {
    const chunk = (index: number, delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index, delta, finish_reason: finish }] })}\n\n`;
    const noRole = {
      kind: "raw" as const,
      contentType: "text/event-stream",
      pieces: [chunk(0, { content: "First " }), chunk(1, { content: "Second " }), chunk(0, { content: "one." }), chunk(1, { content: "one." }), chunk(0, {}, "stop"), chunk(1, {}, "stop"), "data: [DONE]\n\n"],
    };
    // A server that names the role for the first choice only: the second still gets its own, the first no second one.
    const firstOnly = { ...noRole, pieces: [chunk(0, { role: "assistant", content: "First " }), ...noRole.pieces.slice(1)] };
    up.fakes.beta.enqueue(noRole, firstOnly, noRole);
    const ask = { model: "beta", n: 2, messages: [{ role: "user" as const, content: "two ways" }] };

    for (let round = 0; round < 2; round++) {
      const res = await post("/v1/chat/completions", { ...ask, stream: true });
      const deltas = (await res.text())
        .split("\n\n")
        .filter((block) => block.startsWith("data: {"))
        .flatMap((block) => (JSON.parse(block.slice(6)) as { choices: Array<{ index: number; delta: { role?: string; content?: string } }> }).choices);
      for (const index of [0, 1]) {
        const own = deltas.filter((c) => c.index === index);
        expect(own.filter((c) => c.delta.role !== undefined)).toHaveLength(1);
        expect(own[0]!.delta.role).toBe("assistant");
        expect(own.map((c) => c.delta.content ?? "").join("")).toBe(index === 0 ? "First one." : "Second one.");
      }
    }

    // The SDK refuses a streamed choice that never named its role ("missing role for choice").
    const final = await sdk.chat.completions.stream(ask).finalChatCompletion();
    expect(final.choices.map((c) => [c.index, c.message.role, c.message.content])).toEqual([
      [0, "assistant", "First one."],
      [1, "assistant", "Second one."],
    ]);
  });

  it("the offline template refuses what prose cannot satisfy instead of answering it", async () => {
    up.fakes.beta.setDefault({ kind: "status", status: 503 });
    up.fakes.openai.setDefault({ kind: "status", status: 503 });
    const res = await post("/v1/chat/completions", { model: "auto", messages: [{ role: "user", content: "hi" }], tools: [WEATHER_TOOL], tool_choice: "required" });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).toMatch(/template: template cannot call tools/);
    // Several choices from one reply neither: refused, naming n, never answered with one.
    const several = await post("/v1/chat/completions", { model: "auto", messages: [{ role: "user", content: "hi" }], n: 2 });
    expect(several.status).toBe(502);
    expect(((await several.json()) as { error: { message: string } }).error.message).toMatch(/template: template cannot return 2 choices \(n > 1\)/);
    // Plain prose is still the template's to give.
    const prose = await sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "hi" }], tools: [WEATHER_TOOL] });
    expect(prose.choices[0]!.message.content).toEqual(expect.any(String));
  });
});
