/**
 * Agent frameworks against Switchboard, each configured only with its base URL and key, as
 * their users would: the Vercel AI SDK through @ai-sdk/openai-compatible (generateText and
 * streamText with tools, generateObject) and through @ai-sdk/openai, whose `openai(model)`
 * speaks the Responses API; LangChain JS (ChatOpenAI.bindTools, withStructuredOutput, and
 * `useResponsesApi`). The fake upstream answers like a real model: tool calls when the
 * request offers tools, JSON when it asks for a response format.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { tool as langchainTool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import type { FakeBehavior, FakeRequest } from "../../../test/fake-openai-server.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let t: TestApp;
let up: Upstreams<"beta">;
let token: string;

/**
 * Like a model: offered tools and no tool result yet → call the first tool; a JSON response
 * format → a JSON object; otherwise prose (quoting the last tool result when there is one).
 */
function modelLike({ body }: { body: FakeRequest["body"] }): FakeBehavior {
  const messages = (body.messages ?? []) as Array<{ role: string; content: unknown }>;
  const toolResult = messages.findLast((m) => m.role === "tool");
  const tools = body.tools as Array<{ function: { name: string } }> | undefined;
  if (tools?.length && !toolResult) {
    return { kind: "ok", toolCalls: [{ id: "call_1", name: tools[0]!.function.name, arguments: '{"city":"Paris"}' }] };
  }
  if ((body.response_format as { type?: string } | undefined)?.type?.startsWith("json")) {
    return { kind: "ok", content: '{"city":"Paris","temperature":21}', finishReason: "stop" };
  }
  return { kind: "ok", content: toolResult ? `It is ${String(toolResult.content)} there.` : "Hello from the model." };
}

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  t = await startTestApp({ env: { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000" } });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const Weather = z.object({ city: z.string(), temperature: z.number() });

describe("Vercel AI SDK (ai 6 + @ai-sdk/openai-compatible 2)", () => {
  const model = () =>
    createOpenAICompatible({ name: "switchboard", baseURL: `${t.url}/v1`, apiKey: token, includeUsage: true, supportsStructuredOutputs: true }).chatModel("beta");
  const weatherTool = tool({
    description: "Current temperature for a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, temperature: 21 }),
  });

  it("generateText runs a tool round trip: tool call, tool result, final text", async () => {
    up.fakes.beta.setDefault(modelLike);
    const result = await generateText({ model: model(), prompt: "Weather in Paris?", tools: { weather: weatherTool }, stopWhen: stepCountIs(3) });
    expect(result.steps[0]!.toolCalls).toEqual([expect.objectContaining({ toolName: "weather", input: { city: "Paris" } })]);
    expect(result.steps[0]!.finishReason).toBe("tool-calls");
    expect(result.text).toBe('It is {"city":"Paris","temperature":21} there.');
    // The second request carried the assistant's tool call and the tool's result back upstream.
    const second = up.fakes.beta.requests[1]!.body.messages as Array<Record<string, unknown>>;
    expect(second.map((m) => m["role"])).toEqual(["user", "assistant", "tool"]);
    expect(second[2]).toMatchObject({ role: "tool", tool_call_id: "call_1" });
    expect(up.fakes.beta.requests[0]!.body["tools"]).toEqual([
      { type: "function", function: { name: "weather", description: "Current temperature for a city", parameters: expect.objectContaining({ type: "object" }) } },
    ]);
  });

  it("streamText streams the tool call, then the answer", async () => {
    up.fakes.beta.setDefault(modelLike);
    const result = streamText({ model: model(), prompt: "Weather in Paris?", tools: { weather: weatherTool }, stopWhen: stepCountIs(3) });
    const parts: string[] = [];
    for await (const part of result.fullStream) parts.push(part.type);
    expect(parts).toContain("tool-call");
    expect(parts).toContain("tool-result");
    expect(await result.text).toBe('It is {"city":"Paris","temperature":21} there.');
    expect((await result.steps)[0]!.toolCalls[0]).toMatchObject({ toolName: "weather", input: { city: "Paris" } });
  });

  it("generateObject gets structured JSON through response_format json_schema", async () => {
    up.fakes.beta.setDefault(modelLike);
    const { object } = await generateObject({ model: model(), schema: Weather, schemaName: "weather", prompt: "Weather in Paris as JSON" });
    expect(object).toEqual({ city: "Paris", temperature: 21 });
    expect(up.fakes.beta.requests[0]!.body["response_format"]).toMatchObject({ type: "json_schema", json_schema: { name: "weather" } });
  });

  it("a truncated answer reports finishReason length", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "cut", finishReason: "length" });
    const result = await generateText({ model: model(), prompt: "Write a novel", maxOutputTokens: 3 });
    expect(result.finishReason).toBe("length");
    expect(up.fakes.beta.requests[0]!.body["max_tokens"]).toBe(3);
  });
});

describe("LangChain JS (@langchain/openai 1.5 + @langchain/core 1)", () => {
  const chat = () => new ChatOpenAI({ model: "beta", apiKey: token, configuration: { baseURL: `${t.url}/v1` }, maxRetries: 0 });
  const weather = langchainTool(async ({ city }: { city: string }) => `21 degrees in ${city}`, {
    name: "get_weather",
    description: "Current temperature for a city",
    schema: z.object({ city: z.string() }),
  });

  it("bindTools: the answer carries tool_calls, invoked or streamed", async () => {
    up.fakes.beta.setDefault(modelLike);
    const bound = chat().bindTools([weather]);
    const message = await bound.invoke("Weather in Paris?");
    expect(message.tool_calls).toEqual([expect.objectContaining({ name: "get_weather", args: { city: "Paris" }, id: "call_1" })]);
    expect(message.response_metadata["finish_reason"]).toBe("tool_calls");

    let streamed: Awaited<ReturnType<typeof bound.invoke>> | undefined;
    for await (const chunk of await bound.stream("Weather in Paris?")) streamed = streamed ? streamed.concat(chunk) : chunk;
    expect(streamed?.tool_calls).toEqual([expect.objectContaining({ name: "get_weather", args: { city: "Paris" } })]);
  });

  it("withStructuredOutput returns the parsed object", async () => {
    up.fakes.beta.setDefault(modelLike);
    const structured = chat().withStructuredOutput(Weather, { name: "weather" });
    expect(await structured.invoke("Weather in Paris?")).toEqual({ city: "Paris", temperature: 21 });
    const sent = up.fakes.beta.requests[0]!.body;
    // Whichever way this version asks (json_schema or a forced function), the upstream got it as sent.
    expect(sent["response_format"] ?? sent["tool_choice"]).toBeDefined();
  });
});

describe("the Responses API (POST /v1/responses), as these frameworks use it by default", () => {
  const weatherTool = tool({
    description: "Current temperature for a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, temperature: 21 }),
  });
  // @ai-sdk/openai's `openai(model)` calls /v1/responses, at its default store: true.
  const responsesModel = () => createOpenAI({ baseURL: `${t.url}/v1`, apiKey: token })("beta");

  it("Vercel AI SDK (@ai-sdk/openai 3) at its default store: true: earlier text it names by item_reference is resolved, in a second turn and after a tool step", async () => {
    // What the SDK sends, read on its way out (the real fetch does the rest).
    const sent: Array<{ input: Array<{ type?: string; role?: string }> }> = [];
    const recording: typeof fetch = (url, init) => {
      if (typeof init?.body === "string") sent.push(JSON.parse(init.body) as (typeof sent)[number]);
      return fetch(url, init);
    };
    const model = () => createOpenAI({ baseURL: `${t.url}/v1`, apiKey: token, fetch: recording })("beta");
    up.fakes.beta.setDefault(({ body }) => {
      const toolResult = (body.messages ?? []).findLast((m) => m.role === "tool");
      if (body.tools && !toolResult) return { kind: "ok", content: "Let me check.", toolCalls: [{ id: "call_t", name: "weather", arguments: '{"city":"Oslo"}' }] };
      return { kind: "ok", content: toolResult ? "It is mild." : "Hello from the model." };
    });

    const first = await generateText({ model: model(), prompt: "Say hello" });
    const second = await generateText({ model: model(), messages: [{ role: "user", content: "Say hello" }, ...first.response.messages, { role: "user", content: "And the weather in Oslo?" }], tools: { weather: weatherTool }, stopWhen: stepCountIs(3) });
    expect(second.text).toBe("It is mild.");
    // The SDK named the earlier text instead of sending it, in both later requests…
    expect(sent.slice(1).map((body) => body.input.filter((item) => item.type === "item_reference").length)).toEqual([1, 2]);
    // …and the provider got it whole: the first turn's text, then this turn's text with its call.
    const last = up.fakes.beta.requests.at(-1)!.body.messages!;
    const text = (content: unknown) => (Array.isArray(content) ? content.map((part: { text?: string }) => part.text ?? "").join("") : content);
    expect(last.map((m) => [m.role, text(m.content)])).toEqual([
      ["user", "Say hello"],
      ["assistant", "Hello from the model."],
      ["user", "And the weather in Oslo?"],
      ["assistant", "Let me check."],
      ["tool", JSON.stringify({ city: "Oslo", temperature: 21 })],
    ]);
  });

  it("Vercel AI SDK (@ai-sdk/openai 3): generateText runs a tool round trip over /v1/responses", async () => {
    up.fakes.beta.setDefault(modelLike);
    const result = await generateText({ model: responsesModel(), prompt: "Weather in Paris?", tools: { weather: weatherTool }, stopWhen: stepCountIs(3) });
    expect(result.steps[0]!.toolCalls).toEqual([expect.objectContaining({ toolName: "weather", input: { city: "Paris" } })]);
    expect(result.text).toBe('It is {"city":"Paris","temperature":21} there.');
    expect(up.fakes.beta.requests[1]!.body.messages!.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
  });

  it("Vercel AI SDK (@ai-sdk/openai 3): streamText streams the tool call, then the answer, with usage", async () => {
    up.fakes.beta.setDefault(modelLike);
    const result = streamText({ model: responsesModel(), prompt: "Weather in Paris?", tools: { weather: weatherTool }, stopWhen: stepCountIs(3) });
    const parts: string[] = [];
    for await (const part of result.fullStream) parts.push(part.type);
    expect(parts).toContain("tool-call");
    expect(parts).toContain("text-delta");
    expect(await result.text).toBe('It is {"city":"Paris","temperature":21} there.');
    expect((await result.totalUsage).inputTokens).toBeGreaterThan(0);
  });

  it("Vercel AI SDK (@ai-sdk/openai 3): generateObject through text.format json_schema", async () => {
    up.fakes.beta.setDefault(modelLike);
    const { object } = await generateObject({ model: responsesModel(), schema: Weather, schemaName: "weather", prompt: "Weather in Paris as JSON" });
    expect(object).toEqual({ city: "Paris", temperature: 21 });
    expect(up.fakes.beta.requests[0]!.body["response_format"]).toMatchObject({ type: "json_schema", json_schema: { name: "weather" } });
  });

  it("LangChain ChatOpenAI with useResponsesApi: bindTools invoked and streamed", async () => {
    up.fakes.beta.setDefault(modelLike);
    const weather = langchainTool(async ({ city }: { city: string }) => `21 degrees in ${city}`, {
      name: "get_weather",
      description: "Current temperature for a city",
      schema: z.object({ city: z.string() }),
    });
    const bound = new ChatOpenAI({ model: "beta", apiKey: token, configuration: { baseURL: `${t.url}/v1` }, maxRetries: 0, useResponsesApi: true }).bindTools([weather]);
    const message = await bound.invoke("Weather in Paris?");
    expect(message.tool_calls).toEqual([expect.objectContaining({ name: "get_weather", args: { city: "Paris" }, id: "call_1" })]);
    let streamed: Awaited<ReturnType<typeof bound.invoke>> | undefined;
    for await (const chunk of await bound.stream("Weather in Paris?")) streamed = streamed ? streamed.concat(chunk) : chunk;
    expect(streamed?.tool_calls).toEqual([expect.objectContaining({ name: "get_weather", args: { city: "Paris" } })]);
    expect(up.fakes.beta.requests.every((r) => r.path.endsWith("/chat/completions"))).toBe(true);
  });
});
