/**
 * Extended thinking through the Responses API, as the OpenAI SDK drives it against an
 * Anthropic provider: `reasoning.effort` asks for thinking, the thinking comes back as a
 * `reasoning` item (its text as the summary, its signed blocks in `encrypted_content`), and a
 * tool step's next request — by `previous_response_id`, or with the items sent back whole —
 * gives Anthropic the blocks again ahead of the turn's tool call, as it requires. Real local
 * server speaking the Messages API.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, tool } from "ai";
import OpenAI, { BadRequestError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { anthropicEvent, startFakeAnthropic, type FakeAnthropicServer } from "../../../test/fake-anthropic-server.ts";
import { startTestApp, type TestApp } from "../../../test/app.ts";

const KEY = "sk-ant-good-key-000000";
let t: TestApp;
let claude: FakeAnthropicServer;
let sdk: OpenAI;
let token: string;

beforeAll(async () => {
  claude = await startFakeAnthropic({ apiKey: KEY });
  t = await startTestApp({ env: { PROVIDER_ORDER: "template" } });
  const admin = t.client(await t.login());
  await admin.providers.create.mutate({ name: "claude", kind: "anthropic", baseUrl: claude.url, apiKey: KEY, models: ["claude-test"] });
  await admin.models.upsert.mutate({ name: "auto", targets: [{ provider: "claude", upstreamModel: "claude-test" }] });
  token = (await t.userWithRole("USER")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await claude?.close();
});
afterEach(() => void (claude.requests.length = 0));

const WEATHER = { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, strict: false } as const;
const block = { type: "thinking", thinking: "Oslo is a city; ask the tool.", signature: "sig-123" };
const toolUse = { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } };
const usage = { input_tokens: 5, output_tokens: 9 };

/** Claude's answer: thinking, then a call to the weather tool. */
const thinksThenCalls = () =>
  claude.enqueue({ kind: "raw", contentType: "application/json", pieces: [JSON.stringify({ type: "message", role: "assistant", model: "claude-test", content: [block, toolUse], stop_reason: "tool_use", usage })] });
const answers = (text: string) =>
  claude.enqueue({ kind: "raw", contentType: "application/json", pieces: [JSON.stringify({ type: "message", role: "assistant", model: "claude-test", content: [{ type: "text", text }], stop_reason: "end_turn", usage })] });
const sentMessages = (n: number) => (claude.requests[n]!.body as { messages: unknown[] }).messages;

describe("extended thinking through /v1/responses", () => {
  it("reasoning.effort asks for it; the thinking is a reasoning item; previous_response_id sends its blocks back before the tool call", async () => {
    thinksThenCalls();
    const first = await sdk.responses.create({ model: "auto", input: "Weather in Oslo?", tools: [WEATHER], reasoning: { effort: "medium" } });
    expect(claude.requests[0]!.body).toMatchObject({ thinking: { type: "enabled", budget_tokens: 2048 } });
    expect(first.output.map((item) => item.type)).toEqual(["reasoning", "function_call"]);
    const reasoning = first.output[0] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.summary).toEqual([{ type: "summary_text", text: block.thinking }]);
    expect(reasoning.encrypted_content).toEqual(expect.any(String));

    answers("3 degrees and clear.");
    const second = await sdk.responses.create({
      model: "auto",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: "toolu_1", output: "3 degrees, clear" }],
      tools: [WEATHER],
      reasoning: { effort: "medium" },
    });
    expect(second.output_text).toBe("3 degrees and clear.");
    expect(sentMessages(1)).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Oslo?" }] },
      { role: "assistant", content: [block, toolUse] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "3 degrees, clear" }] },
    ]);
  });

  it("streamed: summary deltas as they think, and the items sent back whole (store: false) carry the blocks too", async () => {
    claude.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        anthropicEvent("message_start", { message: { model: "claude-test", usage: { input_tokens: 5, output_tokens: 1 } } }),
        anthropicEvent("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "" } }),
        anthropicEvent("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "Oslo is a city; " } }),
        anthropicEvent("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "ask the tool." } }),
        anthropicEvent("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "sig-123" } }),
        anthropicEvent("content_block_stop", { index: 0 }),
        anthropicEvent("content_block_start", { index: 1, content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} } }),
        anthropicEvent("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: '{"city":"Oslo"}' } }),
        anthropicEvent("content_block_stop", { index: 1 }),
        anthropicEvent("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } }),
        anthropicEvent("message_stop"),
      ],
    });
    const stream = sdk.responses.stream({ model: "auto", input: "Weather in Oslo?", tools: [WEATHER], reasoning: { effort: "low" }, store: false });
    const deltas: string[] = [];
    stream.on("response.reasoning_summary_text.delta", (event) => deltas.push(event.delta));
    const first = await stream.finalResponse();
    expect(deltas.join("")).toBe(block.thinking);
    expect(first.output.map((item) => item.type)).toEqual(["reasoning", "function_call"]);

    answers("3 degrees.");
    await sdk.responses.create({
      model: "auto",
      store: false,
      input: [{ role: "user", content: "Weather in Oslo?" }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: "function_call_output", call_id: "toolu_1", output: "3 degrees" }],
      tools: [WEATHER],
      reasoning: { effort: "low" },
    });
    expect(sentMessages(1)[1]).toEqual({ role: "assistant", content: [block, toolUse] });
  });

  it("the Vercel AI SDK's tool loop (@ai-sdk/openai, its default store: true) keeps the thinking through the tool step", async () => {
    thinksThenCalls();
    answers("3 degrees and clear.");
    const weather = tool({ description: "Current weather", inputSchema: z.object({ city: z.string() }), execute: async () => "3 degrees, clear" });
    const result = await generateText({
      model: createOpenAI({ baseURL: `${t.url}/v1`, apiKey: token })("auto"),
      prompt: "Weather in Oslo?",
      tools: { get_weather: weather },
      stopWhen: stepCountIs(3),
      providerOptions: { openai: { reasoningEffort: "medium" } },
    });
    expect(result.text).toBe("3 degrees and clear.");
    expect(result.steps[0]!.reasoningText).toBe(block.thinking);
    expect(sentMessages(1)[1]).toEqual({ role: "assistant", content: [block, toolUse] });
  });

  it("a reasoning item it did not make is skipped; one whose encrypted_content was changed is a 400 naming it", async () => {
    answers("Fine.");
    const foreign: OpenAI.Responses.ResponseReasoningItem = { type: "reasoning", id: "rs_openai", summary: [], encrypted_content: "gAAAAABopenai-sealed" };
    await sdk.responses.create({ model: "auto", input: [{ role: "user", content: "Hi" }, foreign, { role: "assistant", content: "Hello." }, { role: "user", content: "Again" }] });
    expect(sentMessages(0)[1]).toEqual({ role: "assistant", content: [{ type: "text", text: "Hello." }] });

    const changed = { ...foreign, encrypted_content: "switchboard.thinking.v1.bm90IGpzb24" };
    const refused = await sdk.responses.create({ model: "auto", input: [{ role: "user", content: "Hi" }, changed, { role: "assistant", content: "Hello." }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).param).toBe("input.1.encrypted_content");
    expect(claude.requests).toHaveLength(1);
  });
});
