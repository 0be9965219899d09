/**
 * What Anthropic-specific requests keep on their way through the OpenAI shape: prompt-caching
 * breakpoints (`cache_control` on a part, a message, a system prompt or a tool) reach the
 * blocks they mark, and extended thinking (`thinking`) is asked for and comes back as
 * `reasoning_content` — with the blocks and their signatures (whole, or streamed once each block
 * ends), which the client sends back in `thinking_blocks` for the next tool step. Real local
 * server speaking the Messages API.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { anthropicEvent, startFakeAnthropic, type FakeAnthropicServer } from "../../test/fake-anthropic-server.ts";
import { ask, collect } from "../../test/provider-calls.ts";
import { createAnthropicProvider } from "./anthropic.ts";

const KEY = "sk-ant-test-key";
let claude: FakeAnthropicServer;
beforeAll(async () => void (claude = await startFakeAnthropic({ apiKey: KEY })));
afterAll(async () => claude.close());
afterEach(() => void (claude.requests.length = 0));

const provider = () => createAnthropicProvider({ id: "claude", baseUrl: claude.url, apiKey: KEY, model: "claude-test" });
const EPHEMERAL = { type: "ephemeral" };
const sentBody = () => claude.requests[0]!.body as Record<string, unknown>;

describe("prompt caching", () => {
  it("carries cache_control from parts, messages, the system prompt and tools onto the blocks they mark", async () => {
    const passthrough = {
      messages: [
        { role: "system", content: [{ type: "text", text: "A long manual…", cache_control: EPHEMERAL }] },
        { role: "user", content: [{ type: "text", text: "Chapter one" }, { type: "text", text: "Chapter two", cache_control: { type: "ephemeral", ttl: "1h" } }] },
        { role: "assistant", content: "Read." },
        { role: "user", content: "Summarise", cache_control: EPHEMERAL },
      ],
      tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object" } }, cache_control: EPHEMERAL }],
    };
    await provider().complete(ask({ passthrough }));
    const body = sentBody();
    expect(body["system"]).toEqual([{ type: "text", text: "A long manual…", cache_control: EPHEMERAL }]);
    expect(body["messages"]).toEqual([
      { role: "user", content: [{ type: "text", text: "Chapter one" }, { type: "text", text: "Chapter two", cache_control: { type: "ephemeral", ttl: "1h" } }] },
      { role: "assistant", content: [{ type: "text", text: "Read." }] },
      { role: "user", content: [{ type: "text", text: "Summarise", cache_control: EPHEMERAL }] },
    ]);
    expect(body["tools"]).toEqual([{ name: "lookup", input_schema: { type: "object" }, cache_control: EPHEMERAL }]);
  });

  it("sends no empty text block (Anthropic refuses one): a marker on an empty part moves to the block before, and a message's marker never lands on thinking", async () => {
    const passthrough = {
      messages: [
        { role: "user", content: [{ type: "text", text: "The manual" }, { type: "text", text: "", cache_control: EPHEMERAL }] },
        { role: "assistant", content: null, thinking_blocks: [{ type: "thinking", thinking: "t", signature: "s" }], cache_control: EPHEMERAL },
        { role: "user", content: "next" },
      ],
    };
    await provider().complete(ask({ passthrough }));
    const messages = sentBody()["messages"] as Array<{ content: unknown[] }>;
    expect(messages[0]!.content).toEqual([{ type: "text", text: "The manual", cache_control: EPHEMERAL }]);
    expect(messages[1]!.content).toEqual([{ type: "thinking", thinking: "t", signature: "s" }]);
  });

  it("keeps the system prompt a string when nothing in it is marked, and adds a response_format instruction to either form", async () => {
    await provider().complete(ask({ passthrough: { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }] } }));
    expect(sentBody()["system"]).toBe("Be brief.");
    claude.requests.length = 0;
    const marked = { messages: [{ role: "system", content: "Manual", cache_control: EPHEMERAL }, { role: "user", content: "hi" }], response_format: { type: "json_object" } };
    await provider().complete(ask({ passthrough: marked }));
    expect(sentBody()["system"]).toEqual([
      { type: "text", text: "Manual", cache_control: EPHEMERAL },
      { type: "text", text: "Reply with one JSON object, and nothing else." },
    ]);
  });
});

describe("extended thinking", () => {
  const thinking = { type: "enabled", budget_tokens: 2048 };
  const block = { type: "thinking", thinking: "Check the units first.", signature: "sig-123" };

  it("is asked for as sent, and the answer's thinking comes back as reasoning_content with its blocks", async () => {
    claude.enqueue({
      kind: "raw",
      contentType: "application/json",
      pieces: [JSON.stringify({ type: "message", role: "assistant", model: "claude-test", content: [block, { type: "redacted_thinking", data: "opaque" }, { type: "text", text: "42" }], stop_reason: "end_turn", usage: { input_tokens: 3, output_tokens: 9 } })],
    });
    const answer = await provider().complete(ask({ passthrough: { messages: [{ role: "user", content: "6 × 7?" }], thinking, max_tokens: 4096 } }));
    expect(sentBody()["thinking"]).toEqual(thinking);
    expect(answer.content).toBe("42");
    expect(answer.choices?.[0]?.message).toEqual({
      role: "assistant",
      content: "42",
      reasoning_content: "Check the units first.",
      thinking_blocks: [block, { type: "redacted_thinking", data: "opaque" }],
    });
  });

  it("streams the thinking as reasoning_content deltas before the text", async () => {
    claude.enqueue({
      kind: "raw",
      contentType: "text/event-stream",
      pieces: [
        anthropicEvent("message_start", { message: { model: "claude-test", usage: { input_tokens: 3, output_tokens: 1 } } }),
        anthropicEvent("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "" } }),
        anthropicEvent("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "Check " } }),
        anthropicEvent("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "the units." } }),
        anthropicEvent("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "sig-123" } }),
        anthropicEvent("content_block_stop", { index: 0 }),
        anthropicEvent("content_block_start", { index: 1, content_block: { type: "text", text: "" } }),
        anthropicEvent("content_block_delta", { index: 1, delta: { type: "text_delta", text: "42" } }),
        anthropicEvent("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: 9 } }),
        anthropicEvent("message_stop"),
      ],
    });
    const { chunks, error } = await collect(provider(), ask({ passthrough: { messages: [{ role: "user", content: "6 × 7?" }], thinking } }));
    expect(error).toBeUndefined();
    const reasoning = chunks.flatMap((c) => (c.type === "choice" && typeof c.choice.delta["reasoning_content"] === "string" ? [c.choice.delta["reasoning_content"]] : []));
    expect(reasoning.join("")).toBe("Check the units.");
    expect(chunks.filter((c) => c.type === "delta").map((c) => (c.type === "delta" ? c.text : ""))).toEqual(["42"]);
    // The block whole, with its signature, once it ended: what goes back before the tool results.
    const blocks = chunks.flatMap((c) => (c.type === "choice" && Array.isArray(c.choice.delta["thinking_blocks"]) ? (c.choice.delta["thinking_blocks"] as unknown[]) : []));
    expect(blocks).toEqual([{ type: "thinking", thinking: "Check the units.", signature: "sig-123" }]);
  });

  it("sends thinking_blocks back ahead of the turn's tool calls, as Anthropic requires for the next tool step", async () => {
    const passthrough = {
      thinking,
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        { role: "assistant", content: null, thinking_blocks: [block, { type: "not_a_block" }], tool_calls: [{ id: "toolu_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } }] },
        { role: "tool", tool_call_id: "toolu_1", content: "3 degrees" },
      ],
    };
    await provider().complete(ask({ passthrough }));
    expect((sentBody()["messages"] as unknown[])[1]).toEqual({
      role: "assistant",
      content: [block, { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Oslo" } }],
    });
  });
});

describe("reasoning_effort, as OpenAI clients ask for thinking", () => {
  const hi = [{ role: "user", content: "6 × 7?" }];
  const sent = async (fields: Record<string, unknown>) => {
    claude.requests.length = 0;
    await provider().complete(ask({ passthrough: { messages: hi, ...fields } }));
    return { thinking: sentBody()["thinking"], maxTokens: sentBody()["max_tokens"] };
  };

  it("becomes extended thinking with LiteLLM's budgets, the answer's own tokens kept on top when max_tokens is absent", async () => {
    expect(await sent({ reasoning_effort: "low" })).toEqual({ thinking: { type: "enabled", budget_tokens: 1024 }, maxTokens: 1024 + 4096 });
    expect(await sent({ reasoning_effort: "medium" })).toEqual({ thinking: { type: "enabled", budget_tokens: 2048 }, maxTokens: 2048 + 4096 });
    expect(await sent({ reasoning_effort: "high", max_completion_tokens: 20_000 })).toEqual({ thinking: { type: "enabled", budget_tokens: 4096 }, maxTokens: 20_000 });
  });

  it("stays under max_tokens, as Anthropic requires, and is left out where it cannot be", async () => {
    expect(await sent({ reasoning_effort: "high", max_tokens: 3000 })).toEqual({ thinking: { type: "enabled", budget_tokens: 2999 }, maxTokens: 3000 });
    // Less room than the least budget; a forced tool call (Anthropic refuses thinking with one);
    // minimal effort; a value that is no effort at all.
    expect(await sent({ reasoning_effort: "high", max_tokens: 1000 })).toEqual({ thinking: undefined, maxTokens: 1000 });
    const forced = { tools: [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }], tool_choice: "required" };
    expect((await sent({ reasoning_effort: "high", ...forced })).thinking).toBeUndefined();
    expect(await sent({ reasoning_effort: "minimal" })).toEqual({ thinking: undefined, maxTokens: 4096 });
    expect((await sent({ reasoning_effort: "constructor" })).thinking).toBeUndefined();
  });

  it("is left out for a model from before extended thinking (which would refuse it), kept for later ones", async () => {
    const on = async (model: string) => {
      claude.requests.length = 0;
      await provider().complete(ask({ model, passthrough: { messages: hi, reasoning_effort: "high" } }));
      return sentBody()["thinking"];
    };
    for (const old of ["claude-3-5-haiku-20241022", "claude-3-5-sonnet-latest", "claude-3-opus-20240229", "claude-3-haiku-20240307", "anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3.5-sonnet", "claude-2.1", "anthropic.claude-v2:1", "claude-instant-1.2"]) {
      expect(await on(old), old).toBeUndefined();
    }
    for (const thinks of ["claude-3-7-sonnet-20250219", "claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "my-claude-deployment"]) {
      expect(await on(thinks), thinks).toEqual({ type: "enabled", budget_tokens: 4096 });
    }
  });

  it("gives way to thinking asked for in Anthropic's own shape", async () => {
    expect(await sent({ reasoning_effort: "high", thinking: { type: "enabled", budget_tokens: 8000 }, max_tokens: 10_000 })).toEqual({ thinking: { type: "enabled", budget_tokens: 8000 }, maxTokens: 10_000 });
  });
});
