/**
 * The Anthropic-compatible face (POST /v1/messages) driven by Anthropic's official SDK, as an
 * existing application or Claude Code would use it after changing only the base URL and key;
 * plus the raw wire format (event names, error JSON) as curl sees it. Behind it, real local
 * servers: one speaking OpenAI's protocol, one speaking Anthropic's.
 */
import Anthropic, { APIError, AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError } from "@anthropic-ai/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { priceAutoRoute, startTestApp, type TestApp } from "../../../test/app.ts";
import { rawRequest } from "../../../test/raw-http.ts";
import { anthropicEvent, startFakeAnthropic, type FakeAnthropicServer } from "../../../test/fake-anthropic-server.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";

const CLAUDE_KEY = "sk-ant-good-key-000000";
const HEARTBEAT_MS = 100;
let t: TestApp;
let beta: FakeOpenAIServer;
let claude: FakeAnthropicServer;
let user: { id: string; token: string };
let sdk: Anthropic;

beforeAll(async () => {
  [beta, claude] = await Promise.all([startFakeOpenAI({ name: "beta" }), startFakeAnthropic({ apiKey: CLAUDE_KEY })]);
  t = await startTestApp({
    env: { BETA_MODEL_BASE_URL: beta.url, PROVIDER_ORDER: "beta,template", CIRCUIT_FAILURE_THRESHOLD: "1000", CHAT_RATE_LIMIT_PER_MIN: "1000", REQUEST_LOG_BODIES: "true" },
    // Streams waiting for their first token say they are alive after this long.
    appOptions: { sseHeartbeatMs: HEARTBEAT_MS },
  });
  const root = t.client(await t.login());
  await root.providers.create.mutate({ name: "claude", kind: "anthropic", baseUrl: claude.url, apiKey: CLAUDE_KEY, models: ["claude-test"] });
  user = await t.userWithRole("USER");
  sdk = new Anthropic({ baseURL: t.url, apiKey: user.token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([beta?.close(), claude?.close()]);
});
afterEach(() => {
  beta.requests.length = 0;
  claude.requests.length = 0;
  beta.setDefault({ kind: "ok" });
});

const post = (body: unknown, headers: Record<string, string> = { "x-api-key": user.token }, path = "/v1/messages") =>
  fetch(`${t.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers }, body: JSON.stringify(body) });

/** The events of an SSE body, as [name, data] pairs (keep-alive comments left out). */
const sseEvents = (text: string) =>
  text
    .split("\n\n")
    .filter((e) => e.startsWith("event: "))
    .map((e) => {
      const [name, data] = e.split("\n");
      return [name!.slice(7), JSON.parse(data!.slice(6))] as [string, Record<string, any>]; // eslint-disable-line @typescript-eslint/no-explicit-any
    });

const WEATHER = { name: "get_weather", description: "Current weather", input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] } };

describe("POST /v1/messages with Anthropic's SDK", () => {
  it("answers a message with a system prompt, through the chat path's routing, in Anthropic's shape", async () => {
    const { data, response } = await sdk.messages
      .create({ model: "auto", max_tokens: 100, system: [{ type: "text", text: "Be brief." }, { type: "text", text: "Be kind." }], messages: [{ role: "user", content: "Hello" }] })
      .withResponse();
    expect(data).toMatchObject({ type: "message", role: "assistant", content: [{ type: "text", text: "Hello from beta." }], stop_reason: "end_turn", stop_sequence: null });
    expect(data.id).toMatch(/^msg_/);
    expect(data.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
    expect(response.headers.get("x-switchboard-provider")).toBe("beta");
    expect(response.headers.get("request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get("request-id")).toBe(response.headers.get("x-request-id"));
    expect(beta.requests[0]!.body).toMatchObject({
      messages: [{ role: "system", content: "Be brief.\n\nBe kind." }, { role: "user", content: "Hello" }],
      max_completion_tokens: 100,
    });
  });

  it("forwards sampling, stop sequences and the end user under their chat names; top_k and unknown fields are accepted and not forwarded", async () => {
    // Sampling parameters are gone from the SDK's current API version; older clients still send them.
    const res = await post({
      model: "beta",
      max_tokens: 5,
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ["END"],
      metadata: { user_id: "user-42" },
      messages: [{ role: "user", content: [{ type: "text", text: "Hi" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }] }],
      // A field from another API version.
      service_tier: "auto",
    });
    expect(res.status).toBe(200);
    const sent = beta.requests[0]!.body;
    expect(sent).toMatchObject({ temperature: 0.2, top_p: 0.9, stop: ["END"], user: "user-42", max_completion_tokens: 5 });
    expect(sent).not.toHaveProperty("top_k");
    expect(sent).not.toHaveProperty("service_tier");
    expect(sent.messages).toEqual([{ role: "user", content: [{ type: "text", text: "Hi" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] }]);
  });

  it("streams with messages.stream(): text deltas add up to the final message, with its stop reason and usage", async () => {
    beta.enqueue({ kind: "ok", content: "streamed through the gateway" });
    const stream = sdk.messages.stream({ model: "auto", max_tokens: 100, messages: [{ role: "user", content: "stream please" }] });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const message = await stream.finalMessage();
    expect(text).toBe("streamed through the gateway");
    expect(message.content).toEqual([{ type: "text", text: "streamed through the gateway" }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({ input_tokens: 7, output_tokens: 4 });
    expect(message.id).toMatch(/^msg_/);
  });

  it("the stream's events come in Anthropic's order", async () => {
    beta.enqueue({ kind: "ok", content: "two words" });
    const res = await post({ model: "auto", max_tokens: 10, stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("request-id")).toBe(res.headers.get("x-request-id"));
    const events = sseEvents(await res.text());
    expect(events.map(([name]) => name)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    for (const [name, data] of events) expect(data.type).toBe(name);
    expect(events[2]![1]).toEqual({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    expect(events[3]![1]).toEqual({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "two " } });
    expect(events[6]![1]).toMatchObject({ delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 2, input_tokens: 7 } });
  });

  it("a tool round trip: tool_use out, tool_result back as chat's tool message", async () => {
    beta.enqueue({ kind: "ok", toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' }] });
    const first = await sdk.messages.create({ model: "auto", max_tokens: 100, tools: [WEATHER], tool_choice: { type: "any" }, messages: [{ role: "user", content: "Weather in Paris?" }] });
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content).toEqual([{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } }]);
    expect(beta.requests[0]!.body).toMatchObject({
      tools: [{ type: "function", function: { name: "get_weather", description: "Current weather", parameters: WEATHER.input_schema } }],
      tool_choice: "required",
    });

    beta.enqueue({ kind: "ok", content: "Sunny, 21 degrees." });
    const second = await sdk.messages.create({
      model: "auto",
      max_tokens: 100,
      tools: [WEATHER],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: [{ type: "text", text: "21 C, sunny" }] }, { type: "text", text: "Summarise." }] },
      ],
    });
    expect(second.content).toEqual([{ type: "text", text: "Sunny, 21 degrees." }]);
    expect(beta.requests[1]!.body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "21 C, sunny" },
      { role: "user", content: [{ type: "text", text: "Summarise." }] },
    ]);
  });

  it("a failed tool's result (is_error) reaches the model as a failure, not as the tool's answer", async () => {
    beta.enqueue({ kind: "ok", content: "The weather service is down." });
    const call = { type: "tool_use" as const, id: "call_9", name: "get_weather", input: { city: "Paris" } };
    await sdk.messages.create({
      model: "auto",
      max_tokens: 100,
      tools: [WEATHER],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: [call] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_9", content: "upstream timed out", is_error: true }] },
      ],
    });
    expect(beta.requests[0]!.body.messages?.[2]).toEqual({ role: "tool", tool_call_id: "call_9", content: "Error: upstream timed out" });
  });

  it("streams a tool call as a tool_use block of input_json_delta pieces, which the SDK parses", async () => {
    beta.enqueue({ kind: "ok", content: "Let me check.", toolCalls: [{ id: "call_2", name: "get_weather", arguments: '{"city":"Oslo"}' }] });
    const stream = sdk.messages.stream({ model: "auto", max_tokens: 100, tools: [WEATHER], tool_choice: { type: "tool", name: "get_weather" }, messages: [{ role: "user", content: "Weather in Oslo?" }] });
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "call_2", name: "get_weather", input: { city: "Oslo" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
    expect(beta.requests[0]!.body.tool_choice).toEqual({ type: "function", function: { name: "get_weather" } });
  });

  it("two tool calls streamed interleaved (call 0, call 1, call 0 again) reach the SDK as two whole blocks, every delta between its block's start and stop", async () => {
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "chatcmpl-2", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const call = (index: number, args: string, head?: { id: string }) =>
      chunk({ tool_calls: [{ index, ...(head ? { id: head.id, type: "function", function: { name: "get_weather", arguments: args } } : { function: { arguments: args } }) }] });
    beta.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        chunk({ role: "assistant", content: "Checking both." }),
        call(0, '{"city":', { id: "call_a" }),
        call(1, '{"city":"Rome"', { id: "call_b" }),
        call(0, '"Paris"}'),
        call(1, "}"),
        chunk({}, "tool_calls"),
        "data: [DONE]\n\n",
      ],
    });
    const stream = sdk.messages.stream({ model: "beta", max_tokens: 100, tools: [WEATHER], messages: [{ role: "user", content: "Weather in Paris and Rome?" }] });
    let open: number | undefined;
    const outOfPlace: unknown[] = [];
    for await (const event of stream) {
      if (event.type === "content_block_start") {
        if (open !== undefined) outOfPlace.push(event);
        open = event.index;
      } else if (event.type === "content_block_delta" && event.index !== open) outOfPlace.push(event);
      else if (event.type === "content_block_stop") open = undefined;
    }
    expect(outOfPlace).toEqual([]);
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      { type: "text", text: "Checking both." },
      { type: "tool_use", id: "call_a", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "call_b", name: "get_weather", input: { city: "Rome" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
  });

  it("through an Anthropic upstream too: a tool call made by Claude comes back as the same tool_use", async () => {
    const message = await sdk.messages.create({ model: "claude", max_tokens: 100, tools: [WEATHER], messages: [{ role: "user", content: "What is the weather?" }] });
    expect(message.content).toEqual([{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } }]);
    expect(message.stop_reason).toBe("tool_use");
    // Claude's cache reads are Anthropic's cache_read_input_tokens again, outside input_tokens.
    expect(message.usage).toMatchObject({ input_tokens: 12, output_tokens: 5, cache_read_input_tokens: 3 });
    expect(claude.requests[0]!.body).toMatchObject({ model: "claude-test", max_tokens: 100, tools: [{ name: "get_weather", input_schema: WEATHER.input_schema }] });
  });

  it("cache_control on system blocks, message blocks and tools reaches an Anthropic upstream on the same blocks, and never an OpenAI-protocol one", async () => {
    const EPHEMERAL = { type: "ephemeral" as const };
    const HOUR = { type: "ephemeral" as const, ttl: "1h" as const };
    const asked = (model: string): Anthropic.MessageCreateParamsNonStreaming => ({
      model,
      max_tokens: 50,
      system: [
        { type: "text", text: "A long manual.", cache_control: HOUR },
        { type: "text", text: "Be brief." },
      ],
      tools: [{ ...WEATHER, cache_control: EPHEMERAL }],
      messages: [
        { role: "user", content: [{ type: "text", text: "Chapter one.", cache_control: EPHEMERAL }, { type: "text", text: "Weather in Paris?" }] },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_9", name: "get_weather", input: { city: "Paris" }, cache_control: EPHEMERAL }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_9", content: "21 C", cache_control: EPHEMERAL }, { type: "text", text: "Summarise." }] },
      ],
    });
    await sdk.messages.create(asked("claude"));
    const sent = claude.requests[0]!.body;
    expect(sent["system"]).toEqual([
      { type: "text", text: "A long manual.", cache_control: HOUR },
      { type: "text", text: "Be brief." },
    ]);
    expect(sent["tools"]).toEqual([{ name: "get_weather", description: "Current weather", input_schema: WEATHER.input_schema, cache_control: EPHEMERAL }]);
    expect(sent["messages"]).toEqual([
      { role: "user", content: [{ type: "text", text: "Chapter one.", cache_control: EPHEMERAL }, { type: "text", text: "Weather in Paris?" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_9", name: "get_weather", input: { city: "Paris" }, cache_control: EPHEMERAL }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_9", content: "21 C", cache_control: EPHEMERAL }, { type: "text", text: "Summarise." }] },
    ]);

    // An OpenAI-protocol upstream would refuse the field: the same request reaches it without any.
    await sdk.messages.create(asked("beta"));
    const chat = beta.requests[0]!.body;
    expect(JSON.stringify(chat)).not.toContain("cache_control");
    expect(chat.messages?.[0]).toEqual({ role: "system", content: [{ type: "text", text: "A long manual." }, { type: "text", text: "Be brief." }] });
  });

  it("maps finish reasons to stop reasons: length → max_tokens, a stop sequence vLLM names → stop_sequence", async () => {
    beta.enqueue({ kind: "ok", content: "cut short", finishReason: "length" });
    expect((await sdk.messages.create({ model: "auto", max_tokens: 2, messages: [{ role: "user", content: "x" }] })).stop_reason).toBe("max_tokens");

    // vLLM's way of saying which stop sequence ended the answer.
    const completion = { id: "c1", object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content: "one two" }, finish_reason: "stop", stop_reason: "END" }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } };
    beta.enqueue({ kind: "raw", contentType: "application/json", pieces: [JSON.stringify(completion)] });
    const stopped = await sdk.messages.create({ model: "auto", max_tokens: 20, stop_sequences: ["END"], messages: [{ role: "user", content: "count" }] });
    expect(stopped).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "END", content: [{ type: "text", text: "one two" }] });
  });

  it("an OpenAI-protocol upstream naming the gateway's own anthropic_stop is not believed: its answer stops as its finish_reason says, whole and streamed", async () => {
    const forged = { stop_reason: "tool_use", stop_sequence: "END" };
    const completion = { id: "c2", object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content: "no tools here" }, finish_reason: "stop", anthropic_stop: forged }], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } };
    beta.enqueue({ kind: "raw", contentType: "application/json", pieces: [JSON.stringify(completion)] });
    const asked = { model: "beta", max_tokens: 20, messages: [{ role: "user" as const, content: "hi" }] };
    const answered = { content: [{ type: "text", text: "no tools here" }], stop_reason: "end_turn", stop_sequence: null };
    expect(await sdk.messages.create(asked)).toMatchObject(answered);

    const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
      `data: ${JSON.stringify({ id: "chatcmpl-3", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish, ...extra }] })}\n\n`;
    beta.enqueue({ kind: "raw", contentType: "text/event-stream", pieces: [chunk({ role: "assistant", content: "no tools here" }), chunk({}, "stop", { anthropic_stop: forged }), "data: [DONE]\n\n"] });
    expect(await sdk.messages.stream(asked).finalMessage()).toMatchObject(answered);
  });

  it("an Anthropic upstream that stopped at a stop sequence says which, whole and streamed; OpenAI's answers of it stay finish_reason stop", async () => {
    const whole = { id: "msg_02", type: "message", role: "assistant", model: "claude-test", content: [{ type: "text", text: "one two " }], stop_reason: "stop_sequence", stop_sequence: "three", usage: { input_tokens: 5, output_tokens: 2 } };
    const events = [
      anthropicEvent("message_start", { message: { id: "msg_03", type: "message", role: "assistant", model: "claude-test", content: [], stop_reason: null, usage: { input_tokens: 5, output_tokens: 1 } } }),
      anthropicEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
      anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "one two " } }),
      anthropicEvent("content_block_stop", { index: 0 }),
      anthropicEvent("message_delta", { delta: { stop_reason: "stop_sequence", stop_sequence: "three" }, usage: { output_tokens: 2 } }),
      anthropicEvent("message_stop"),
    ];
    const json = () => claude.enqueue({ kind: "raw", contentType: "application/json", pieces: [JSON.stringify(whole)] });
    const sse = () => claude.enqueue({ kind: "raw", contentType: "text/event-stream", pieces: events });
    const asked = { model: "claude", max_tokens: 20, stop_sequences: ["three"], messages: [{ role: "user" as const, content: "count to five" }] };
    const stopped = { content: [{ type: "text", text: "one two " }], stop_reason: "stop_sequence", stop_sequence: "three" };

    json();
    expect(await sdk.messages.create(asked)).toMatchObject(stopped);
    sse();
    expect(await sdk.messages.stream(asked).finalMessage()).toMatchObject(stopped);
    expect(claude.requests[0]!.body).toMatchObject({ stop_sequences: ["three"] });

    // The same answers to an OpenAI client: its finish_reason, and no field of Anthropic's.
    const chat = (body: object) =>
      fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` }, body: JSON.stringify({ model: "claude", stop: ["three"], messages: [{ role: "user", content: "count to five" }], ...body }) });
    json();
    const completion = (await (await chat({})).json()) as { choices: unknown[] };
    expect(completion.choices).toEqual([{ index: 0, message: { role: "assistant", content: "one two ", refusal: null }, logprobs: null, finish_reason: "stop" }]);
    sse();
    const chunks = await (await chat({ stream: true })).text();
    expect(chunks).toContain('"finish_reason":"stop"');
    expect(chunks).not.toMatch(/stop_sequence|anthropic_stop/);
  });

  it("a stream cut mid-answer raises in the SDK instead of ending cleanly", async () => {
    beta.enqueue({ kind: "cut", afterChunks: 2, content: "this answer is cut" });
    const stream = sdk.messages.stream({ model: "beta", max_tokens: 100, messages: [{ role: "user", content: "x" }] });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const failure = await stream.finalMessage().catch((e: unknown) => e);
    expect(text).toBe("this answer ");
    expect(failure).toBeInstanceOf(APIError);
  });

  it("a stream broken after its start ends with an error event and no message_stop", async () => {
    beta.enqueue({ kind: "cut", afterChunks: 1, content: "this answer is cut" });
    const res = await post({ model: "beta", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
    expect(res.status).toBe(200);
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toEqual(["error", { type: "error", error: { type: "api_error", message: expect.stringMatching(/stream broke after the first token/) } }]);
    expect(events.map(([name]) => name)).not.toContain("message_stop");
  });

  it("a first token long in coming: the head goes out with keep-alive comments, then Anthropic's events", async () => {
    let answer!: () => void;
    beta.enqueue({ kind: "wait", until: new Promise<void>((resolve) => (answer = resolve)), content: "Thought it through." });
    // The head arrives while the upstream is still silent: nothing here releases it before.
    const res = await post({ model: "beta", max_tokens: 10, stream: true, messages: [{ role: "user", content: "think" }] });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-switchboard-provider")).toBeNull();
    setTimeout(answer, 3 * HEARTBEAT_MS);
    const sent = (await res.text()).split("\n\n").filter(Boolean);
    expect(sent[0]).toBe(": keep-alive");
    expect(sent.find((e) => !e.startsWith(":"))).toMatch(/^event: message_start\n/);
    expect(sent.at(-1)).toMatch(/^event: message_stop\n/);
  });

  it("asked to, the response cache answers a repeated message without calling a provider, streamed or not", async () => {
    const body = { model: "auto", max_tokens: 20, messages: [{ role: "user", content: "cache this exact question" }] };
    const headers = { "x-api-key": user.token, "x-switchboard-cache-ttl": "60" };
    const first = await post(body, headers);
    expect(first.headers.get("x-switchboard-cache")).toBe("miss");
    const second = await post(body, headers);
    expect(second.headers.get("x-switchboard-cache")).toBe("hit");
    const content = async (res: Response) => ((await res.json()) as { content: unknown }).content;
    expect(await content(second)).toEqual(await content(first));
    const streamed = await post({ ...body, stream: true }, headers);
    expect(streamed.headers.get("x-switchboard-cache")).toBe("hit");
    expect(sseEvents(await streamed.text()).at(-1)![0]).toBe("message_stop");
    expect(beta.requests).toHaveLength(1);
  });

  it("count_tokens gives an estimate of the prompt", async () => {
    const counted = await sdk.messages.countTokens({ model: "auto", system: "Be brief.", messages: [{ role: "user", content: "x".repeat(400) }] });
    expect(counted.input_tokens).toBe(Math.ceil((400 + "Be brief.".length) / 4));
    const withTools = await sdk.messages.countTokens({ model: "auto", tools: [WEATHER], messages: [{ role: "user", content: "x".repeat(400) }] });
    expect(withTools.input_tokens).toBeGreaterThan(100);
    expect(beta.requests).toHaveLength(0);
  });
});

describe("errors in Anthropic's shape", () => {
  it("a missing max_tokens, a malformed body, a server tool: 400 invalid_request_error", async () => {
    const missing = await sdk.messages.create({ model: "auto", messages: [{ role: "user", content: "x" }] } as unknown as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(BadRequestError);
    expect((missing as BadRequestError).error).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: "max_tokens: Field required" } });

    const cases: unknown[] = [
      { model: "auto", max_tokens: 10, messages: [] },
      { model: "auto", max_tokens: 10, messages: [{ role: "system", content: "x" }] },
      { model: "auto", max_tokens: 10, messages: [{ role: "user", content: [{ type: "document", source: {} }] }] },
      { model: "auto", max_tokens: 10, tools: [{ type: "web_search_20250305", name: "web_search" }], messages: [{ role: "user", content: "x" }] },
      { model: "auto", max_tokens: "ten", messages: [{ role: "user", content: "x" }] },
    ];
    for (const body of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.any(String) }, request_id: expect.any(String) });
    }
    const raw = await fetch(`${t.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": user.token }, body: "{not json" });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  });

  it("a refused block is named in the message, not as an \"Invalid input\" of the whole content", async () => {
    const refusals: Array<[unknown, RegExp]> = [
      [[{ type: "document", source: { type: "text", data: "x" } }], /^messages\.0\.content\.0\.type: content blocks must be of type .*documents/],
      [[{ type: "image", source: { type: "file", file_id: "file_1" } }], /^messages\.0\.content\.0\.source\.type: .*files uploaded to Anthropic/],
      [[{ type: "tool_result", tool_use_id: "t1", content: [{ type: "tool_result", tool_use_id: "t0" }] }], /^messages\.0\.content\.0\.content\.0\.type: tool_result content blocks must be of type text or image/],
      [[{ type: "text" }], /^messages\.0\.content\.0\.text: .*expected string/],
      [[42], /^messages\.0\.content\.0: content blocks must be of type/],
    ];
    for (const [content, message] of refusals) {
      const res = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content }] });
      expect(res.status, JSON.stringify(content)).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    // A value of neither type keeps the union's own refusal.
    const neither = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: null }] });
    expect(await neither.json()).toMatchObject({ error: { type: "invalid_request_error", message: "messages.0.content: Invalid input" } });
    expect(beta.requests).toHaveLength(0);
  });

  it("a tool_use block in a user turn or a tool_result in an assistant turn is a 400 naming it, not dropped", async () => {
    const cases: Array<[unknown[], string]> = [
      [[{ role: "user", content: [{ type: "text", text: "call it" }, { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} }] }], "messages.0.content.1"],
      [[{ role: "user", content: "x" }, { role: "assistant", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "21 C" }] }], "messages.1.content.0"],
    ];
    for (const [messages, param] of cases) {
      for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
        const res = await post({ model: "auto", max_tokens: 10, messages }, { "x-api-key": user.token }, path);
        expect(res.status, `${path} ${param}`).toBe(400);
        expect(await res.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.stringContaining(`${param}: a tool_`) } });
      }
    }
    expect(beta.requests).toHaveLength(0);
  });

  it("a tool_choice naming a tool not in tools, and an empty text block, are 400 invalid_request_error naming the field, as on Anthropic's API", async () => {
    const refusal = async (asking: Promise<unknown>) => {
      const error = await asking.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      return ((error as BadRequestError).error as { error: { type: string; message: string } }).error;
    };
    const hi = [{ role: "user" as const, content: "Hi" }];
    const forced = { type: "tool" as const, name: "get_time" };
    expect(await refusal(sdk.messages.create({ model: "auto", max_tokens: 10, tools: [WEATHER], tool_choice: forced, messages: hi }))).toEqual({
      type: "invalid_request_error",
      message: 'tool_choice.name: no tool named "get_time" in tools',
    });
    expect((await refusal(sdk.messages.create({ model: "auto", max_tokens: 10, tool_choice: forced, messages: hi }))).message).toMatch(/^tool_choice\.name: /);
    expect((await refusal(sdk.messages.countTokens({ model: "auto", tools: [WEATHER], tool_choice: forced, messages: hi }))).message).toMatch(/^tool_choice\.name: /);

    const blank = [{ role: "user" as const, content: [{ type: "text" as const, text: "Hi" }, { type: "text" as const, text: "" }] }];
    const empty = { type: "invalid_request_error", message: "messages.0.content.1.text: text content blocks must be non-empty" };
    expect(await refusal(sdk.messages.create({ model: "auto", max_tokens: 10, messages: blank }))).toEqual(empty);
    expect(await refusal(sdk.messages.countTokens({ model: "auto", messages: blank }))).toEqual(empty);
    expect(beta.requests).toHaveLength(0);
  });

  it("an image is checked as Anthropic's API checks it: its media type, its base64, an http(s) URL", async () => {
    const image = (source: unknown) => ({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: [{ type: "image", source }, { type: "text", text: "what is this?" }] }] });
    const refusals: Array<[unknown, RegExp]> = [
      [{ type: "base64", media_type: "text/html", data: "PGI+aGk8L2I+" }, /^messages\.0\.content\.0\.source\.media_type: media_type must be one of image\/jpeg/],
      [{ type: "base64", media_type: "image/png,<b>", data: "iVBORw0KGgo=" }, /source\.media_type/],
      [{ type: "base64", media_type: "image/png", data: "data:image/png;base64,iVBORw0KGgo=" }, /source\.data: data must be base64/],
      [{ type: "base64", media_type: "image/png", data: "not base64!" }, /source\.data: data must be base64/],
      [{ type: "url", url: "file:///etc/passwd" }, /source\.url: url must be an http or https URL/],
    ];
    for (const [source, message] of refusals) {
      const res = await post(image(source));
      expect(res.status, JSON.stringify(source)).toBe(400);
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.stringMatching(message) } });
    }
    expect(beta.requests).toHaveLength(0);
    expect((await post(image({ type: "url", url: "https://example.com/cat.webp" }))).status).toBe(200);
    expect((await post(image({ type: "base64", media_type: "image/webp", data: "UklGRg==" }))).status).toBe(200);
  });

  it("x-api-key takes an API key; a bad one is a 401 authentication_error (AuthenticationError in the SDK)", async () => {
    const { key } = await t.client(user.token).keys.create.mutate({ name: "claude code" });
    expect((await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, { "x-api-key": key })).status).toBe(200);
    // As Claude Code calls it; and a photo over 1 MB, which is read only for a valid credential.
    const photo = { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "A".repeat(1_500_000) } };
    const large = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: [photo, { type: "text", text: "what is this?" }] }] }, { "x-api-key": key }, "/v1/messages?beta=true");
    expect(large.status).toBe(200);

    const bad = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, { "x-api-key": "sb-not-a-key" });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const anonymous = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, {});
    expect(anonymous.status).toBe(401);
    // An ingress's Basic credential beside it does not hide the key; a Bearer token wins over it.
    const behindIngress = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, { authorization: "Basic aW5ncmVzczpzZWNyZXQ=", "x-api-key": key });
    expect(behindIngress.status).toBe(200);
    const bearerWins = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, { authorization: "Bearer sb-not-a-key", "x-api-key": key });
    expect(bearerWins.status).toBe(401);
    const wrong = new Anthropic({ baseURL: t.url, apiKey: "not-a-token", maxRetries: 0 });
    await expect(wrong.messages.create({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] })).rejects.toBeInstanceOf(AuthenticationError);
  });

  it("x-api-key is read beside an Authorization header that carries no Bearer token; a Bearer token wins", async () => {
    const body = { model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] };
    // A proxy's Basic credentials, a client that sends an empty Bearer when it has no token.
    for (const authorization of ["Basic dXNlcjpwYXNz", "Bearer ", "Bearer"]) {
      expect((await post(body, { "x-api-key": user.token, authorization })).status, authorization).toBe(200);
    }
    const wrongBearer = await post(body, { "x-api-key": user.token, authorization: "Bearer sb-not-a-key" });
    expect(wrongBearer.status).toBe(401);
    expect(await wrongBearer.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    expect((await post(body, { "x-api-key": "sb-not-a-key", authorization: `Bearer ${user.token}` })).status).toBe(200);
    // Without an x-api-key, an Authorization that is not a Bearer is still refused.
    expect((await post(body, { authorization: "Basic dXNlcjpwYXNz" })).status).toBe(401);
  });

  it("x-api-key is a credential of its own: a session cookie sent along from another origin is not refused as a forgery", async () => {
    const body = { model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] };
    const browser = { origin: "http://other.example", cookie: "sb_access=left-over-session" };
    expect((await post(body, { "x-api-key": user.token, ...browser })).status).toBe(200);
    // The cookie alone, from there, is still refused.
    const forged = await post(body, browser);
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ type: "error", error: { type: "permission_error", message: expect.stringMatching(/Cross-origin/) } });
  });

  it("an API key without the chat scope is 403 permission_error", async () => {
    const { key } = await t.client(user.token).keys.create.mutate({ name: "models only", scopes: ["models"] });
    const res = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, { "x-api-key": key });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "permission_error" } });
    expect(beta.requests).toHaveLength(0);
  });

  it("a model outside an API key's list is 403 permission_error; an unknown model 404 not_found_error", async () => {
    const { key } = await t.client(user.token).keys.create.mutate({ name: "beta only", scopes: ["chat"], models: ["beta"] });
    const limited = new Anthropic({ baseURL: t.url, apiKey: key, maxRetries: 0 });
    expect((await limited.messages.create({ model: "beta", max_tokens: 10, messages: [{ role: "user", content: "x" }] })).content).toHaveLength(1);
    const refused = await limited.messages.create({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PermissionDeniedError);
    expect((refused as PermissionDeniedError).error).toMatchObject({ error: { type: "permission_error" } });
    await expect(sdk.messages.create({ model: "claude-9-ultra", max_tokens: 10, messages: [{ role: "user", content: "x" }] })).rejects.toBeInstanceOf(NotFoundError);
    expect(beta.requests).toHaveLength(1);
    // count_tokens keeps to the list too: a name outside it is refused, never told apart from an unknown one.
    expect((await limited.messages.countTokens({ model: "beta", messages: [{ role: "user", content: "x" }] })).input_tokens).toBeGreaterThan(0);
    for (const model of ["auto", "claude-9-ultra"]) {
      await expect(limited.messages.countTokens({ model, messages: [{ role: "user", content: "x" }] }), model).rejects.toBeInstanceOf(PermissionDeniedError);
    }
  });

  it("text over the gateway's limit is 413 request_too_large", async () => {
    const res = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x".repeat(300_000) }] });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
  });

  it("a body over the route's limit is 413 request_too_large, unread", async () => {
    const res = await rawRequest(t.url, { method: "POST", path: "/v1/messages", headers: { "content-type": "application/json", "x-api-key": user.token }, streamBytes: 21 * 1024 * 1024 });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ type: "error", error: { type: "request_too_large" } });
  });

  it("a failure before the first event is a real status, not a 200 stream", async () => {
    beta.enqueue({ kind: "status", status: 500 });
    const res = await post({ model: "beta", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringMatching(/No provider could answer/) } });
  });

  it("unknown paths under /v1/messages are 404, other methods 405, in Anthropic's shape", async () => {
    const batches = await post({}, { "x-api-key": user.token }, "/v1/messages/batches");
    expect(batches.status).toBe(404);
    expect(await batches.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
    // With the header Anthropic's SDKs read the request id from, as every other error has it.
    expect(batches.headers.get("request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const get = await fetch(`${t.url}/v1/messages`, { headers: { "x-api-key": user.token } });
    expect(get.status).toBe(405);
    expect(get.headers.get("request-id")).toBe(get.headers.get("x-request-id"));
    expect(get.headers.get("allow")).toBe("POST");
    expect(await get.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    // A URL the router cannot decode is refused before routing, in the same shape.
    const garbled = await post({}, { "x-api-key": user.token }, "/v1/messages/%ZZ");
    expect(garbled.status).toBe(400);
    expect(garbled.headers.get("request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await garbled.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.stringMatching(/Malformed URL/) } });
  });

  it("an emergency stop is 503 overloaded_error, not to be retried", async () => {
    const root = t.client(await t.login());
    await root.emergency.freeze.mutate({ reason: "anthropic face freeze test" });
    try {
      const res = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
      expect(res.status).toBe(503);
      expect(res.headers.get("x-should-retry")).toBe("false");
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "overloaded_error", message: expect.stringMatching(/anthropic face freeze test/) } });
      const failure = await sdk.messages.create({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect((failure as APIError).status).toBe(503);
    } finally {
      await root.emergency.unfreeze.mutate({ reason: "done" });
    }
    expect(beta.requests).toHaveLength(0);
  });
});

describe("the request log and the key's limits", () => {
  it("a message sent with an API key is logged under /v1/messages with its usage, and carries the key's rate-limit headers", async () => {
    const { key, id: keyId } = await t.client(user.token).keys.create.mutate({ name: "logged", rateLimitPerMin: 50 });
    const res = await post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "log me" }] }, { "x-api-key": key });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit-requests")).toBe("50");
    const root = t.client(await t.login());
    await expect
      .poll(async () => (await root.logs.list.query({ keyId, limit: 10 })).items)
      .toEqual([expect.objectContaining({ route: "/v1/messages", model: "auto", provider: "beta", status: 200, promptTokens: 7, completionTokens: 3, stream: false, userId: user.id })]);
  });

  it("a streamed message is logged as the message it added up to, as a whole answer reads", async () => {
    const { key, id: keyId } = await t.client(user.token).keys.create.mutate({ name: "streamed and logged" });
    beta.enqueue({ kind: "ok", content: "Checking.", toolCalls: [{ id: "call_9", name: "get_weather", arguments: '{"city":"Rome"}' }] });
    const keyed = new Anthropic({ baseURL: t.url, apiKey: key, maxRetries: 0 });
    const message = await keyed.messages.stream({ model: "auto", max_tokens: 50, tools: [WEATHER], messages: [{ role: "user", content: "Weather in Rome?" }] }).finalMessage();
    const root = t.client(await t.login());
    await expect.poll(async () => (await root.logs.list.query({ keyId, limit: 10 })).items).toEqual([expect.objectContaining({ route: "/v1/messages", stream: true, status: 200 })]);
    const [logged] = (await root.logs.list.query({ keyId, limit: 10 })).items;
    const detail = await root.logs.get.query({ id: logged!.id });
    // What the SDK adds of its own (a parse of structured output, a field of a newer API version) is not on the wire.
    const { parsed_output: _parsed, stop_details: _details, ...sent } = message as typeof message & { parsed_output?: unknown; stop_details?: unknown };
    expect(JSON.parse(detail.responseBody!)).toEqual(sent);
  });

  it("a key over its budget is refused with 429 rate_limit_error, not to be retried", async () => {
    const root = t.client(await t.login());
    await priceAutoRoute(root);
    const { key } = await t.client(user.token).keys.create.mutate({ name: "budgeted", budgetUsd: 0.000001, budgetPeriod: "day" });
    const ask = () => post({ model: "auto", max_tokens: 10, messages: [{ role: "user", content: "spend" }] }, { "x-api-key": key });
    expect((await ask()).status).toBe(200);
    // The spend is booked as the answer ends: the next request may still be on its way in.
    let refused!: Response;
    await expect.poll(async () => (refused = await ask()).status).toBe(429);
    expect(refused.headers.get("x-should-retry")).toBe("false");
    expect(await refused.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error", message: expect.stringMatching(/budget/) } });
  });
});
