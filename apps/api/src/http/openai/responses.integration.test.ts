/**
 * The Responses API (`POST /v1/responses`) as the official `openai` SDK drives it, against a
 * local OpenAI-protocol upstream: what reaches the provider (the chat request it means), what
 * comes back (output items, tool calls, usage, incomplete answers), streamed or not, and what
 * is refused by name because Switchboard keeps no state or has no built-in tools.
 */
import OpenAI, { APIError, BadRequestError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type TestApp, type TestFleet } from "../../../test/app.ts";
import { bearer, trpcQuery } from "../../../test/http.ts";
import { uniquePrefix } from "../../../test/redis.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let fleet: TestFleet;
let t: TestApp;
let up: Upstreams<"beta" | "openai">;
let token: string;
let admin: string;
let sdk: OpenAI;

/** A second instance on the same PostgreSQL and Redis: a fleet of two. */
let t2: TestApp;
const prefix = uniquePrefix("responses");

beforeAll(async () => {
  up = await startUpstreams(["beta", "openai"]);
  const env = { ...up.env, CIRCUIT_FAILURE_THRESHOLD: "2", CHAT_RATE_LIMIT_PER_MIN: "1000" };
  fleet = await startFleet({ env, prefix });
  ({ a: t, b: t2 } = fleet);
  token = (await t.userWithRole("USER")).token;
  admin = (await t.userWithRole("ADMIN")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await fleet?.close();
  await up?.close();
});
afterEach(() => up.reset());

const WEATHER = {
  type: "function",
  name: "get_weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  strict: true,
} as const;

const post = (body: unknown) =>
  fetch(`${t.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

describe("POST /v1/responses", () => {
  it("answers a string input with a completed response whose output_text, usage and settings read as OpenAI's", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "Bonjour tout le monde", usageDetails: { prompt_tokens_details: { cached_tokens: 3 }, completion_tokens_details: { reasoning_tokens: 2 } } });
    const response = await sdk.responses.create({ model: "beta/my-model", input: "Say hello in French", instructions: "Be brief.", temperature: 0.2, max_output_tokens: 99, metadata: { run: "r1" }, text: { verbosity: "low" } });
    expect(response.id).toMatch(/^resp_/);
    expect(response.object).toBe("response");
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("Bonjour tout le monde");
    expect(response.output).toEqual([
      { type: "message", id: expect.stringMatching(/^msg_/), status: "completed", role: "assistant", content: [{ type: "output_text", text: "Bonjour tout le monde", annotations: [], logprobs: [] }] },
    ]);
    expect(response.usage).toEqual({ input_tokens: 7, input_tokens_details: { cached_tokens: 3 }, output_tokens: expect.any(Number), output_tokens_details: { reasoning_tokens: 2 }, total_tokens: expect.any(Number) });
    expect(response).toMatchObject({ instructions: "Be brief.", temperature: 0.2, max_output_tokens: 99, metadata: { run: "r1" }, store: true, previous_response_id: null });
    expect(response).toMatchObject({ text: { format: { type: "text" }, verbosity: "low" }, top_logprobs: 0, truncation: "disabled", service_tier: null });

    // The provider got the chat request this means: instructions as the system message, the
    // token limit and sampling under their chat names; model routed, stream decided per call.
    const received = up.fakes.beta.requests[0]!.body;
    expect(received).toMatchObject({ model: "my-model", stream: false, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello in French" }], max_completion_tokens: 99, temperature: 0.2 });
    expect(received).not.toHaveProperty("metadata");
    expect(received).not.toHaveProperty("input");
    expect(received).not.toHaveProperty("instructions");
  });

  it("runs a function-tool round trip: the call comes back as a function_call item, its output goes back as a tool message", async () => {
    up.fakes.beta.enqueue({ kind: "ok", toolCalls: [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }] });
    const first = await sdk.responses.create({ model: "beta", input: [{ role: "user", content: "Weather in Paris?" }], tools: [WEATHER], tool_choice: "required", parallel_tool_calls: false });
    expect(first.status).toBe("completed");
    expect(first.output).toEqual([{ type: "function_call", id: expect.stringMatching(/^fc_/), call_id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}', status: "completed" }]);
    expect(up.fakes.beta.requests[0]!.body).toMatchObject({
      tools: [{ type: "function", function: { name: "get_weather", description: WEATHER.description, parameters: WEATHER.parameters, strict: true } }],
      tool_choice: "required",
      parallel_tool_calls: false,
    });

    up.fakes.beta.enqueue({ kind: "ok", content: "It is 21 degrees in Paris." });
    const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    const second = await sdk.responses.create({
      model: "beta",
      tools: [WEATHER],
      input: [{ role: "user", content: "Weather in Paris?" }, call, { type: "function_call_output", call_id: call.call_id, output: '{"temp":21}' }],
    });
    expect(second.output_text).toBe("It is 21 degrees in Paris.");
    expect(up.fakes.beta.requests[1]!.body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_w1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_w1", content: '{"temp":21}' },
    ]);
  });

  it("passes structured output as response_format, images as image_url parts, and says when an answer was cut at its token limit", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: '{"a":', finishReason: "length" });
    const response = await sdk.responses.create({
      model: "beta",
      input: [
        { role: "developer", content: "Answer in JSON." },
        { role: "user", content: [{ type: "input_text", text: "What is this?" }, { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" }] },
      ],
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object", properties: { a: { type: "number" } } }, strict: true } },
    });
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(response.output_text).toBe('{"a":');
    const received = up.fakes.beta.requests[0]!.body;
    expect(received.response_format).toEqual({ type: "json_schema", json_schema: { name: "answer", schema: { type: "object", properties: { a: { type: "number" } } }, strict: true } });
    expect(received.messages).toEqual([
      { role: "developer", content: "Answer in JSON." },
      { role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } }] },
    ]);
  });

  it("asks for logprobs with top_logprobs and returns them on the output_text part, streamed or not", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "two words", logprobs: true }, { kind: "ok", content: "two words", logprobs: true });
    const plain = await sdk.responses.create({ model: "beta", input: "x", top_logprobs: 2 });
    expect(up.fakes.beta.requests[0]!.body).toMatchObject({ logprobs: true, top_logprobs: 2 });
    const part = (plain.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText;
    expect(part.logprobs!.map((l) => l.token).join("")).toBe("two words");

    const stream = await sdk.responses.create({ model: "beta", input: "x", top_logprobs: 2, stream: true });
    const tokens: string[] = [];
    for await (const event of stream) if (event.type === "response.output_text.delta") tokens.push(...event.logprobs.map((l) => l.token));
    expect(tokens.join("")).toBe("two words");
  });

  it("streams named events in order, text deltas that add up to the answer, and the whole response in response.completed", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "one two three four" });
    const stream = await sdk.responses.create({ model: "beta", input: "count", stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...events.filter((e) => e.type === "response.output_text.delta").map(() => "response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe("one two three four");
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.status).toBe("completed");
    expect(completed.response.output_text ?? completed.response.output.flatMap((o) => (o.type === "message" ? o.content : [])).map((c) => (c.type === "output_text" ? c.text : "")).join("")).toBe("one two three four");
    expect(completed.response.usage?.input_tokens).toBeGreaterThan(0);
  });

  it("streams a tool call as function_call argument deltas, which the SDK's stream helper assembles", async () => {
    up.fakes.beta.enqueue({ kind: "ok", toolCalls: [{ id: "call_s1", name: "get_weather", arguments: '{"city":"Reykjavik"}' }] });
    const stream = sdk.responses.stream({ model: "beta", input: "Weather in Reykjavik?", tools: [WEATHER] });
    const argumentDeltas: string[] = [];
    stream.on("response.function_call_arguments.delta", (e) => argumentDeltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(argumentDeltas.length).toBeGreaterThan(1);
    expect(argumentDeltas.join("")).toBe('{"city":"Reykjavik"}');
    expect(final.output).toMatchObject([{ type: "function_call", id: expect.stringMatching(/^fc_/), call_id: "call_s1", name: "get_weather", arguments: '{"city":"Reykjavik"}', status: "completed" }]);
  });

  it("streams parallel calls whose argument pieces interleave, and a name that arrives late, as whole items the SDK assembles", async () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "beta-1", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const call = (index: number, fields: Record<string, unknown>) => chunk({ tool_calls: [{ index, ...fields }] });
    up.fakes.beta.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        chunk({ role: "assistant", content: null }),
        call(0, { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":' } }),
        // The second call's name comes after its first arguments.
        call(1, { id: "call_b", type: "function", function: { arguments: '{"city":' } }),
        call(1, { function: { name: "get_weather" } }),
        call(0, { function: { arguments: '"Oslo"}' } }),
        call(1, { function: { arguments: '"Rome"}' } }),
        chunk({}, "tool_calls"),
        "data: [DONE]\n\n",
      ],
    });
    const stream = sdk.responses.stream({ model: "beta", input: "Weather in Oslo and Rome?", tools: [WEATHER] });
    const events: Array<{ type: string; output_index?: number; item?: { name?: string } }> = [];
    stream.on("event", (e) => events.push(e as (typeof events)[number]));
    const final = await stream.finalResponse();
    expect(final.output).toMatchObject([
      { type: "function_call", call_id: "call_a", name: "get_weather", arguments: '{"city":"Oslo"}', status: "completed" },
      { type: "function_call", call_id: "call_b", name: "get_weather", arguments: '{"city":"Rome"}', status: "completed" },
    ]);
    // Every item is announced with its name, and no argument piece follows its item's end.
    expect(events.filter((e) => e.type === "response.output_item.added").map((e) => e.item?.name)).toEqual(["get_weather", "get_weather"]);
    for (const index of [0, 1]) {
      const ofItem = events.filter((e) => e.output_index === index).map((e) => e.type);
      expect(ofItem.at(-1)).toBe("response.output_item.done");
      expect(ofItem.lastIndexOf("response.function_call_arguments.delta")).toBeLessThan(ofItem.indexOf("response.function_call_arguments.done"));
    }
  });

  it("sends a turn's [message, function_call, message] items back as one assistant message, so the tool result follows its call", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "Done." });
    await sdk.responses.create({
      model: "beta",
      tools: [WEATHER],
      input: [
        { role: "user", content: "Weather in Oslo?" },
        { type: "message", id: "msg_1", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Let me check.", annotations: [] }] },
        { type: "function_call", call_id: "call_m", name: "get_weather", arguments: '{"city":"Oslo"}' },
        { type: "message", id: "msg_2", status: "completed", role: "assistant", content: [{ type: "output_text", text: "One moment.", annotations: [] }] },
        { type: "function_call_output", call_id: "call_m", output: '{"temp":3}' },
      ],
    });
    expect(up.fakes.beta.requests[0]!.body.messages).toEqual([
      { role: "user", content: "Weather in Oslo?" },
      { role: "assistant", content: "Let me check.\n\nOne moment.", tool_calls: [{ id: "call_m", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
      { role: "tool", tool_call_id: "call_m", content: '{"temp":3}' },
    ]);
  });

  it("resolves an item_reference to an earlier answer's item on any instance, streamed or not, for the user who got it", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "Paris is the capital." });
    const first = await sdk.responses.create({ model: "beta", input: "Capital of France?" });
    expect(first).toMatchObject({ store: true });
    up.fakes.beta.enqueue({ kind: "ok", toolCalls: [{ id: "call_r1", name: "get_weather", arguments: '{"city":"Paris"}' }] });
    const streamed = await sdk.responses.stream({ model: "beta", input: "Weather there?", tools: [WEATHER] }).finalResponse();
    const [said, called] = [first.output[0]!, streamed.output[0]!];

    // The next request goes to the other instance and names both items instead of sending them.
    const other = new OpenAI({ baseURL: `${t2.url}/v1`, apiKey: token, maxRetries: 0 });
    up.fakes.beta.enqueue({ kind: "ok", content: "Mild." });
    const next = await other.responses.create({
      model: "beta",
      tools: [WEATHER],
      input: [
        { role: "user", content: "Capital of France?" },
        // The AI SDK names a message once per text part: back to back, it counts once.
        { type: "item_reference", id: said.id! },
        { type: "item_reference", id: said.id! },
        { role: "user", content: "Weather there?" },
        { type: "item_reference", id: called.id! },
        { type: "function_call_output", call_id: "call_r1", output: '{"temp":18}' },
      ],
    });
    expect(next.output_text).toBe("Mild.");
    expect(up.fakes.beta.requests[2]!.body.messages).toEqual([
      { role: "user", content: "Capital of France?" },
      { role: "assistant", content: "Paris is the capital." },
      { role: "user", content: "Weather there?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_r1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_r1", content: '{"temp":18}' },
    ]);

    // Someone else's item is unknown to this caller; store: false keeps nothing.
    const stranger = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: (await t.userWithRole("USER")).token, maxRetries: 0 });
    const refused = await stranger.responses.create({ model: "beta", input: [{ role: "user", content: "x" }, { type: "item_reference", id: said.id! }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).param).toBe("input.1.id");
    expect((refused as BadRequestError).message).toContain(said.id!);
    up.fakes.beta.enqueue({ kind: "ok", content: "Not kept." });
    const unkept = await sdk.responses.create({ model: "beta", input: "x", store: false });
    expect(unkept).toMatchObject({ store: false });
    await expect(sdk.responses.create({ model: "beta", input: [{ role: "user", content: "x" }, { type: "item_reference", id: unkept.output[0]!.id! }] })).rejects.toBeInstanceOf(BadRequestError);
    expect(up.fakes.beta.requests).toHaveLength(4);
  });

  it("continues an earlier answer by previous_response_id on any instance, streamed or not: the provider gets the whole conversation", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "Paris." });
    const first = await sdk.responses.create({ model: "beta", instructions: "Be brief.", input: "Capital of France?" });
    // A tool step, streamed, on the other instance; then the tool's result alone continues it.
    const other = new OpenAI({ baseURL: `${t2.url}/v1`, apiKey: token, maxRetries: 0 });
    up.fakes.beta.enqueue({ kind: "ok", toolCalls: [{ id: "call_p1", name: "get_weather", arguments: '{"city":"Paris"}' }] });
    const second = await other.responses.stream({ model: "beta", previous_response_id: first.id, input: "Weather there?", tools: [WEATHER] }).finalResponse();
    expect(second.previous_response_id).toBe(first.id);
    up.fakes.beta.enqueue({ kind: "ok", content: "Mild, 18 degrees." });
    const third = await sdk.responses.create({ model: "beta", previous_response_id: second.id, tools: [WEATHER], input: [{ type: "function_call_output", call_id: "call_p1", output: '{"temp":18}' }] });
    expect(third).toMatchObject({ output_text: "Mild, 18 degrees.", previous_response_id: second.id, store: true });

    const sent = up.fakes.beta.requests.map((r) => r.body.messages);
    expect(sent[0]).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Capital of France?" },
    ]);
    // An answer's instructions are its own: not carried into the next, as OpenAI does.
    expect(sent[1]).toEqual([
      { role: "user", content: "Capital of France?" },
      { role: "assistant", content: "Paris." },
      { role: "user", content: "Weather there?" },
    ]);
    expect(sent[2]).toEqual([
      { role: "user", content: "Capital of France?" },
      { role: "assistant", content: "Paris." },
      { role: "user", content: "Weather there?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_p1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_p1", content: '{"temp":18}' },
    ]);

    // Another user cannot continue it; an answer made with store: false cannot be continued,
    // though it may itself continue a kept one.
    const stranger = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: (await t.userWithRole("USER")).token, maxRetries: 0 });
    const refused = await stranger.responses.create({ model: "beta", previous_response_id: third.id, input: "Hi" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect(refused).toMatchObject({ param: "previous_response_id", code: "previous_response_not_found" });
    up.fakes.beta.enqueue({ kind: "ok", content: "Not kept." });
    const unkept = await sdk.responses.create({ model: "beta", previous_response_id: first.id, input: "Again?", store: false });
    expect(up.fakes.beta.requests[3]!.body.messages).toHaveLength(3);
    await expect(sdk.responses.create({ model: "beta", previous_response_id: unkept.id, input: "More?" })).rejects.toMatchObject({ status: 400, code: "previous_response_not_found" });
    expect(up.fakes.beta.requests).toHaveLength(4);
  });

  it("refuses by name what needs stored state or built-in tools, and malformed input, in OpenAI's shape; nothing reaches the provider", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ model: "beta", input: "x", previous_response_id: "resp_123" }, "previous_response_id"],
      [{ model: "beta", input: "x", conversation: "conv_1" }, "conversation"],
      [{ model: "beta", input: "x", background: true }, "background"],
      [{ model: "beta", input: "x", tools: [{ type: "web_search" }] }, "tools.0.type"],
      [{ model: "beta", input: [{ role: "user", content: "x" }, { type: "item_reference", id: "msg_never_made" }] }, "input.1.id"],
      [{ model: "beta", input: [{ type: "computer_call", id: "cu_1" }] }, "input.0.type"],
      [{ model: "beta", input: [{ role: "user", content: [{ type: "input_image", file_id: "file-1" }] }] }, "input.0.content.0.image_url"],
      [{ model: "beta", input: [{ role: "wizard", content: "x" }] }, "input.0.role"],
      [{ model: "beta", input: [] }, "input"],
      [{ model: "beta" }, "input"],
      [{ model: "beta", input: "x", text: { format: { type: "json_schema" } } }, "text.format"],
      [{ model: "beta", input: 42 }, "input"],
      [{ model: "beta", input: [{ role: "user", content: null }] }, "input.0.content"],
      [{ model: "beta", input: [{ type: "function_call_output", output: "no call id" }] }, "input.0.call_id"],
      [{ model: "beta", input: "x", tool_choice: { type: "function" } }, "tool_choice"],
      [{ model: "beta", input: "x", max_output_tokens: 0 }, "max_output_tokens"],
      [{ model: "beta", input: "x", max_output_tokens: 2_000_000 }, "max_output_tokens"],
      // A chat tool message carries text only: an image in a tool's output is refused, not dropped.
      [{ model: "beta", input: [{ role: "user", content: "x" }, { type: "function_call_output", call_id: "c1", output: [{ type: "input_image", image_url: "data:image/png;base64,AA==" }] }] }, "input.1.output"],
    ];
    for (const [body, param] of cases) {
      const res = await post(body);
      expect(res.status, param).toBe(400);
      const error = ((await res.json()) as { error: Record<string, unknown> }).error;
      expect(error.type, param).toBe("invalid_request_error");
      expect(String(error.param), param).toContain(param);
    }
    await expect(sdk.responses.create({ model: "beta", input: "x", previous_response_id: "resp_1" })).rejects.toMatchObject({ status: 400, code: "previous_response_not_found" });
    // Past the same character budget as chat: 413, naming input.
    const huge = await post({ model: "beta", input: [{ role: "user", content: "x".repeat(30_000) }, { role: "user", content: "y".repeat(30_000) }, { role: "user", content: "z".repeat(30_000) }, ...Array.from({ length: 6 }, () => ({ role: "user", content: "w".repeat(30_000) }))] });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { param: string } }).error.param).toBe("input");
    expect(up.fakes.beta.requests).toHaveLength(0);
  });

  it("falls back like chat: a provider's 500 sends the request to the next one, named in x-switchboard-provider", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500 });
    up.fakes.openai.enqueue({ kind: "ok", content: "from the second provider" });
    const { data, response } = await sdk.responses.create({ model: "auto", input: "hi" }).withResponse();
    expect(data.output_text).toBe("from the second provider");
    expect(response.headers.get("x-switchboard-provider")).toBe("openai");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("a stream cut mid-answer ends with an error event and no response.completed, so the SDK raises", async () => {
    up.fakes.openai.enqueue({ kind: "cut", afterChunks: 2, content: "this answer is cut" });
    const stream = await sdk.responses.create({ model: "openai", input: "x", stream: true });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const event of stream) seen.push(event.type);
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toMatch(/stream broke after the first token/);
    expect(seen).toContain("response.output_text.delta");
    expect(seen).not.toContain("response.completed");
  });

  it("a stream whose every provider fails before the first token gets a real HTTP status, not a 200", async () => {
    up.fakes.openai.enqueue({ kind: "status", status: 503 });
    const res = await post({ model: "openai", input: "x", stream: true });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(((await res.json()) as { error: { message: string } }).error.message).toEqual(expect.any(String));
  });

  it("other methods on /v1/responses are a 405 naming POST", async () => {
    const listed = await fetch(`${t.url}/v1/responses`, { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).toBe(405);
    expect(listed.headers.get("allow")).toBe("POST");
  });

  it("is logged and metered like a chat completion, under its own route", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "logged answer" });
    const { response } = await sdk.responses.create({ model: "beta", input: "log me" }).withResponse();
    const requestId = response.headers.get("x-request-id");
    let row: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !row; i++) {
      const items = (await trpcQuery(t.url, "logs.list", { limit: 20 }, bearer(admin))).body.result.data.items as Array<Record<string, unknown>>;
      row = items.find((r) => r["requestId"] === requestId);
      if (!row) await new Promise((r) => setTimeout(r, 50));
    }
    expect(row).toMatchObject({ route: "/v1/responses", status: 200, provider: "beta", stream: false, promptTokens: 7 });
  });
});
