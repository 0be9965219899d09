/**
 * OpenAI chat-completions shape ↔ Anthropic Messages API, both ways: system prompts,
 * content parts (text, images), tools / tool_choice, assistant tool_calls ↔ tool_use
 * blocks, tool messages ↔ tool_result blocks, stop_reason ↔ finish_reason and usage.
 * Pure functions: the provider (anthropic.ts) does the I/O.
 */

import type { AnthropicStop } from "./types.ts";

type Json = Record<string, unknown>;

/** Anthropic requires max_tokens; OpenAI clients often leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

export function finishReasonOf(stopReason: string | null | undefined): string {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      // end_turn, stop_sequence, pause_turn
      return "stop";
  }
}

/** An answer's stop_reason and stop_sequence, kept as Anthropic said them (undefined without a reason). */
export function anthropicStopOf(stopReason: unknown, stopSequence: unknown): AnthropicStop | undefined {
  if (typeof stopReason !== "string" || stopReason === "") return undefined;
  return { stop_reason: stopReason, stop_sequence: typeof stopSequence === "string" ? stopSequence : null };
}

export function stopReasonOf(finishReason: string | null | undefined): string {
  switch (finishReason) {
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
    default:
      return "end_turn";
  }
}

const asText = (content: unknown): string => {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p === "object" && (p as Json).type === "text" ? String((p as Json).text ?? "") : "")).join("");
  }
  return "";
};

/** An OpenAI image_url (data: URL or http URL) as an Anthropic image source. */
function imageBlock(part: Json): Json | null {
  const image = part.image_url as Json | string | undefined;
  const url = typeof image === "string" ? image : typeof image?.url === "string" ? image.url : undefined;
  if (!url) return null;
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (data) return { type: "image", source: { type: "base64", media_type: data[1], data: data[2] } };
  return { type: "image", source: { type: "url", url } };
}

/**
 * Anthropic's prompt-caching breakpoint (`cache_control: {type: "ephemeral", ttl?}`) where an
 * OpenAI-shaped client puts it — on a content part, a message or a tool, as LiteLLM's users
 * do — carried onto the block it marks. Without it every cached prefix is paid in full.
 */
const cacheControlOf = (holder: unknown): Json => {
  const marker = (holder as Json | null | undefined)?.cache_control;
  return marker !== null && typeof marker === "object" ? { cache_control: marker } : {};
};

const isThinking = (block: Json) => block.type === "thinking" || block.type === "redacted_thinking";

/**
 * A message-level cache_control marks the message's last block (the end of the prefix to
 * cache); never a thinking block, which Anthropic does not let a marker sit on.
 */
function markedLast(blocks: Json[], message: Json): Json[] {
  const marker = cacheControlOf(message);
  if (!marker.cache_control) return blocks;
  const at = blocks.findLastIndex((b) => !isThinking(b));
  if (at >= 0 && !blocks[at]!.cache_control) blocks[at] = { ...blocks[at], ...marker };
  return blocks;
}

function contentBlocks(content: unknown): Json[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  if (!Array.isArray(content)) return [];
  const blocks: Json[] = [];
  for (const raw of content) {
    const part = raw as Json;
    if (part?.type === "text") {
      const text = String(part.text ?? "");
      // Anthropic refuses an empty text block; a marker on one moves to the block before it.
      if (text !== "") blocks.push({ type: "text", text, ...cacheControlOf(part) });
      else if (blocks.length > 0 && part.cache_control) blocks[blocks.length - 1] = { ...blocks.at(-1), ...cacheControlOf(part) };
    } else if (part?.type === "image_url") {
      const block = imageBlock(part);
      if (block) blocks.push({ ...block, ...cacheControlOf(part) });
    }
  }
  return blocks;
}

/**
 * The thinking an earlier answer carried (`thinking_blocks`, with their signatures), sent back
 * ahead of that turn's text and tool calls: with extended thinking on, Anthropic requires
 * them before the tool_use blocks of the turn whose results follow.
 */
function thinkingBlocksOf(message: Json): Json[] {
  const blocks = message.thinking_blocks;
  if (!Array.isArray(blocks)) return [];
  return blocks.filter((b): b is Json => b !== null && typeof b === "object" && ((b as Json).type === "thinking" || (b as Json).type === "redacted_thinking"));
}

/**
 * The system prompt: a plain string, or — when a part is marked for caching — text blocks,
 * each with its marker. `extra` (a response_format instruction) comes last either way.
 */
export function systemWith(system: string | Json[] | undefined, extra: string): string | Json[] {
  if (Array.isArray(system)) return [...system, { type: "text", text: extra }];
  return system ? `${system}\n\n${extra}` : extra;
}

function systemOf(messages: Json[]): string | Json[] | undefined {
  const blocks = messages.flatMap((m) => markedLast(typeof m.content === "string" ? [{ type: "text", text: m.content }] : contentBlocks(m.content).filter((b) => b.type === "text"), m));
  if (blocks.length === 0) return undefined;
  // Anthropic refuses empty text blocks (a string may be empty).
  if (blocks.some((b) => b.cache_control)) return blocks.filter((b) => b.text !== "");
  return messages.map((m) => asText(m.content)).join("\n\n");
}

function parseArguments(raw: unknown): unknown {
  if (typeof raw !== "string") return raw ?? {};
  try {
    return JSON.parse(raw);
  } catch {
    return {};
  }
}

/** Merges consecutive same-role messages: Anthropic wants user/assistant alternating. */
function pushMessage(out: Json[], role: "user" | "assistant", blocks: Json[]): void {
  if (blocks.length === 0) return;
  const last = out.at(-1);
  if (last && last.role === role) (last.content as Json[]).push(...blocks);
  else out.push({ role, content: blocks });
}

function toolsOf(tools: unknown): Json[] | undefined {
  if (!Array.isArray(tools)) return undefined;
  return tools.flatMap((raw) => {
    const fn = (raw as Json)?.function as Json | undefined;
    if (!fn || typeof fn.name !== "string") return [];
    return [
      {
        name: fn.name,
        ...(typeof fn.description === "string" ? { description: fn.description } : {}),
        input_schema: fn.parameters ?? { type: "object", properties: {} },
        ...cacheControlOf(raw),
      },
    ];
  });
}

function toolChoiceOf(choice: unknown, parallel: unknown): Json | undefined {
  const disableParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === "auto") return { type: "auto", ...disableParallel };
  if (choice === "required") return { type: "any", ...disableParallel };
  if (choice === "none") return { type: "none" };
  const name = ((choice as Json)?.function as Json | undefined)?.name;
  if (typeof name === "string") return { type: "tool", name, ...disableParallel };
  return Object.keys(disableParallel).length > 0 ? { type: "auto", ...disableParallel } : undefined;
}

/**
 * An OpenAI chat-completions body (without model/stream) as Anthropic Messages params.
 * Fields Anthropic has no equivalent for (logprobs, seed, n>1…) are left out, and so are
 * the sampling parameters (temperature, top_p): the API version we speak (anthropic.ts)
 * answers 400 to any of them, even at their default values. A response_format becomes an
 * instruction in the system prompt (the Messages API has no JSON mode of that shape).
 */
export function toAnthropicParams(body: Json, model: string): Json {
  const systemMessages: Json[] = [];
  const messages: Json[] = [];
  for (const raw of (body.messages as Json[] | undefined) ?? []) {
    const m = raw ?? {};
    switch (m.role) {
      case "system":
      case "developer":
        systemMessages.push(m);
        break;
      case "user":
        pushMessage(messages, "user", markedLast(contentBlocks(m.content), m));
        break;
      case "assistant": {
        const blocks = [...thinkingBlocksOf(m), ...contentBlocks(m.content)];
        for (const call of (m.tool_calls as Json[] | undefined) ?? []) {
          const fn = (call.function as Json | undefined) ?? {};
          blocks.push({ type: "tool_use", id: String(call.id ?? ""), name: String(fn.name ?? ""), input: parseArguments(fn.arguments) });
        }
        pushMessage(messages, "assistant", markedLast(blocks, m));
        break;
      }
      case "tool":
        pushMessage(messages, "user", markedLast([{ type: "tool_result", tool_use_id: String(m.tool_call_id ?? ""), content: asText(m.content) }], m));
        break;
      default:
        break;
    }
  }
  const system = systemOf(systemMessages);
  const stop = body.stop;
  const maxTokens = (body.max_completion_tokens ?? body.max_tokens) as number | null | undefined;
  const tools = toolsOf(body.tools);
  const toolChoice = toolChoiceOf(body.tool_choice, body.parallel_tool_calls);
  const format = formatInstruction(body.response_format);
  const asked = body.thinking !== null && typeof body.thinking === "object" ? body.thinking : undefined;
  const fromEffort = asked || predatesThinking(model) ? undefined : thinkingForEffort(body.reasoning_effort, maxTokens ?? undefined, toolChoice);
  return {
    model,
    max_tokens: fromEffort?.maxTokens ?? maxTokens ?? DEFAULT_MAX_TOKENS,
    messages,
    ...(format ? { system: systemWith(system, format) } : system !== undefined ? { system } : {}),
    ...(typeof stop === "string" ? { stop_sequences: [stop] } : Array.isArray(stop) ? { stop_sequences: stop } : {}),
    ...(tools && tools.length > 0 ? { tools } : {}),
    ...(toolChoice && tools && tools.length > 0 ? { tool_choice: toolChoice } : {}),
    ...(typeof body.user === "string" ? { metadata: { user_id: body.user } } : {}),
    // Extended thinking, in Anthropic's own shape ({type: "enabled", budget_tokens}), or from reasoning_effort.
    ...(asked ? { thinking: asked } : fromEffort ? { thinking: fromEffort.thinking } : {}),
  };
}

/** Thinking budgets by OpenAI `reasoning_effort`: LiteLLM's, so clients moving between the two gateways see the same. */
const EFFORT_BUDGETS = new Map([
  ["low", 1024],
  ["medium", 2048],
  ["high", 4096],
]);
/** Anthropic's least thinking budget. */
const MIN_THINKING_BUDGET = 1024;

/**
 * Claude models from before extended thinking (Claude 2, Instant, the 3 and 3.5 families),
 * by the names Anthropic, Bedrock and Vertex give them: they refuse `thinking` with a 400, so
 * an OpenAI client's `reasoning_effort` is left out for them, as OpenAI's own non-reasoning
 * models ignore it. Every later model thinks; a name this does not know is assumed to.
 */
const BEFORE_THINKING = /claude-(v?2|instant|3-(haiku|sonnet|opus)|3[-.]5-)/i;
const predatesThinking = (model: string) => BEFORE_THINKING.test(model);

/**
 * OpenAI's `reasoning_effort` as Anthropic's extended thinking, for a request that did not ask
 * for thinking in Anthropic's own shape (`minimal`, `none` or anything else: no thinking).
 * Anthropic requires the budget under max_tokens: a request without max_tokens keeps
 * DEFAULT_MAX_TOKENS for the answer on top of the budget; one whose max_tokens leaves less
 * than the least budget does not think. Anthropic refuses thinking with a forced tool call,
 * so a forced call goes without it.
 */
function thinkingForEffort(effort: unknown, maxTokens: number | undefined, toolChoice: Json | undefined): { thinking: Json; maxTokens: number } | undefined {
  const wanted = typeof effort === "string" ? EFFORT_BUDGETS.get(effort) : undefined;
  if (wanted === undefined || toolChoice?.type === "any" || toolChoice?.type === "tool") return undefined;
  if (maxTokens === undefined) return { thinking: { type: "enabled", budget_tokens: wanted }, maxTokens: wanted + DEFAULT_MAX_TOKENS };
  const budget = Math.min(wanted, maxTokens - 1);
  return budget >= MIN_THINKING_BUDGET ? { thinking: { type: "enabled", budget_tokens: budget }, maxTokens } : undefined;
}

/** OpenAI's response_format as a system-prompt instruction; undefined for plain text. */
function formatInstruction(format: unknown): string | undefined {
  const f = (format ?? {}) as Json;
  if (f.type === "json_object") return "Reply with one JSON object, and nothing else.";
  if (f.type !== "json_schema") return undefined;
  const schema = ((f.json_schema as Json | undefined) ?? {}).schema ?? {};
  return jsonReplyInstruction(schema);
}

/** What asks a model without a JSON mode for one JSON object matching `schema`. */
export function jsonReplyInstruction(schema: unknown): string {
  return `Reply with one JSON object matching this JSON schema, and nothing else:\n${JSON.stringify(schema)}`;
}

export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** An Anthropic message (non-stream) as OpenAI's choice 0: content, tool_calls, finish_reason. */
export function fromAnthropicMessage(message: Json): {
  content: string;
  /** The thinking, as text (DeepSeek's `reasoning_content`); empty without extended thinking. */
  reasoning: string;
  /** The thinking blocks whole, signatures included, for the client to send back. */
  thinkingBlocks: Json[];
  toolCalls: OpenAIToolCall[];
  finishReason: string;
  /** The stop reason and sequence as Anthropic said them, which finishReason cannot all carry. */
  stop: AnthropicStop | undefined;
  usage: { promptTokens: number; completionTokens: number; details: Json } | undefined;
  model: string | undefined;
} {
  let content = "";
  let reasoning = "";
  const thinkingBlocks: Json[] = [];
  const toolCalls: OpenAIToolCall[] = [];
  for (const raw of (message.content as Json[] | undefined) ?? []) {
    if (raw.type === "text") content += String(raw.text ?? "");
    else if (raw.type === "thinking" || raw.type === "redacted_thinking") {
      if (raw.type === "thinking") reasoning += String(raw.thinking ?? "");
      thinkingBlocks.push(raw);
    } else if (raw.type === "tool_use") {
      toolCalls.push({ id: String(raw.id), type: "function", function: { name: String(raw.name), arguments: JSON.stringify(raw.input ?? {}) } });
    }
  }
  return {
    content,
    reasoning,
    thinkingBlocks,
    toolCalls,
    finishReason: finishReasonOf(message.stop_reason as string | undefined),
    stop: anthropicStopOf(message.stop_reason, message.stop_sequence),
    usage: usageOf(message.usage as Json | undefined),
    model: typeof message.model === "string" ? message.model : undefined,
  };
}

/** Anthropic usage → prompt/completion tokens; cache reads count as (cached) prompt tokens. */
export function usageOf(usage: Json | undefined): { promptTokens: number; completionTokens: number; details: Json } | undefined {
  if (!usage) return undefined;
  const input = Number(usage.input_tokens ?? 0);
  const cacheRead = Number(usage.cache_read_input_tokens ?? 0);
  const cacheWrite = Number(usage.cache_creation_input_tokens ?? 0);
  return {
    promptTokens: input + cacheRead + cacheWrite,
    completionTokens: Number(usage.output_tokens ?? 0),
    details: { prompt_tokens_details: { cached_tokens: cacheRead } },
  };
}

/**
 * Folds Anthropic stream events into OpenAI-style pieces. Keeps the state a stream needs:
 * which content block index is which tool call, and the usage reported at start and end.
 */
export function createStreamTranslator() {
  const toolIndexOfBlock = new Map<number, number>();
  /** Thinking blocks being streamed, by content block index: sent whole, signature and all, when they end. */
  const thinkingOfBlock = new Map<number, Json>();
  /** Tool-call blocks that have had argument JSON; one without any means no arguments. */
  const toolBlocksWithArguments = new Set<number>();
  let inputTokens = 0;
  let cacheRead = 0;
  let outputTokens = 0;
  let model: string | undefined;

  type Piece =
    | { type: "text"; text: string }
    | { type: "reasoning"; text: string }
    /** A thinking block complete with its signature (or a redacted one), for the client to send back. */
    | { type: "thinking_block"; block: Json }
    | { type: "tool_call"; index: number; id?: string; name?: string; arguments: string }
    | { type: "finish"; reason: string; stop: AnthropicStop | undefined }
    | { type: "usage"; promptTokens: number; completionTokens: number; details: Json }
    | { type: "error"; message: string };

  function next(event: Json): Piece[] {
    switch (event.type) {
      case "message_start": {
        const message = (event.message as Json | undefined) ?? {};
        model = typeof message.model === "string" ? message.model : model;
        const usage = (message.usage as Json | undefined) ?? {};
        inputTokens = Number(usage.input_tokens ?? 0) + Number(usage.cache_creation_input_tokens ?? 0);
        cacheRead = Number(usage.cache_read_input_tokens ?? 0);
        outputTokens = Number(usage.output_tokens ?? 0);
        return [];
      }
      case "content_block_start": {
        const block = (event.content_block as Json | undefined) ?? {};
        if (block.type === "tool_use") {
          const index = toolIndexOfBlock.size;
          toolIndexOfBlock.set(Number(event.index), index);
          return [{ type: "tool_call", index, id: String(block.id), name: String(block.name), arguments: "" }];
        }
        if (block.type === "text" && typeof block.text === "string" && block.text !== "") return [{ type: "text", text: block.text }];
        if (isThinking(block)) thinkingOfBlock.set(Number(event.index), { ...block });
        return [];
      }
      case "content_block_delta": {
        const delta = (event.delta as Json | undefined) ?? {};
        if (delta.type === "text_delta" && typeof delta.text === "string") return delta.text === "" ? [] : [{ type: "text", text: delta.text }];
        if (delta.type === "thinking_delta" && typeof delta.thinking === "string") {
          const block = thinkingOfBlock.get(Number(event.index));
          if (block) block.thinking = String(block.thinking ?? "") + delta.thinking;
          return delta.thinking === "" ? [] : [{ type: "reasoning", text: delta.thinking }];
        }
        if (delta.type === "signature_delta" && typeof delta.signature === "string") {
          const block = thinkingOfBlock.get(Number(event.index));
          if (block) block.signature = String(block.signature ?? "") + delta.signature;
          return [];
        }
        if (delta.type === "input_json_delta") {
          const index = toolIndexOfBlock.get(Number(event.index));
          if (index === undefined) return [];
          const json = String(delta.partial_json ?? "");
          if (json !== "") toolBlocksWithArguments.add(Number(event.index));
          return [{ type: "tool_call", index, arguments: json }];
        }
        return [];
      }
      case "content_block_stop": {
        const thinking = thinkingOfBlock.get(Number(event.index));
        if (thinking) {
          thinkingOfBlock.delete(Number(event.index));
          return [{ type: "thinking_block", block: thinking }];
        }
        // A tool without parameters streams no JSON at all; OpenAI sends "{}" (as the
        // non-stream answer here does), and clients parse the arguments they add up.
        const index = toolIndexOfBlock.get(Number(event.index));
        if (index === undefined || toolBlocksWithArguments.has(Number(event.index))) return [];
        return [{ type: "tool_call", index, arguments: "{}" }];
      }
      case "message_delta": {
        const delta = (event.delta as Json | undefined) ?? {};
        const usage = (event.usage as Json | undefined) ?? {};
        if (usage.output_tokens !== undefined) outputTokens = Number(usage.output_tokens);
        const pieces: Piece[] = [];
        if (delta.stop_reason) pieces.push({ type: "finish", reason: finishReasonOf(String(delta.stop_reason)), stop: anthropicStopOf(delta.stop_reason, delta.stop_sequence) });
        return pieces;
      }
      case "message_stop":
        return [
          {
            type: "usage",
            promptTokens: inputTokens + cacheRead,
            completionTokens: outputTokens,
            details: { prompt_tokens_details: { cached_tokens: cacheRead } },
          },
        ];
      case "error": {
        const error = (event.error as Json | undefined) ?? {};
        return [{ type: "error", message: String(error.message ?? "upstream sent an error event") }];
      }
      default:
        return [];
    }
  }

  return { next, model: () => model };
}

/**
 * The other way round, for the Anthropic-shaped front door (http/anthropic/): an OpenAI
 * answer (content, tool_calls, usage) as an Anthropic message. `stop`: why it ended, as
 * Anthropic says it (stopReasonOf a finish_reason, or an Anthropic upstream's own words);
 * `cachedTokens` of the prompt are Anthropic's cache reads, which its input_tokens leave out.
 */
export function toAnthropicMessage(answer: { id: string; model: string; content: string; toolCalls?: OpenAIToolCall[]; stop: AnthropicStop; usage?: AnswerUsage }): Json {
  const content: Json[] = [];
  if (answer.content !== "") content.push({ type: "text", text: answer.content });
  for (const call of answer.toolCalls ?? []) content.push(toolUseBlock(call));
  return {
    id: answer.id,
    type: "message",
    role: "assistant",
    model: answer.model,
    content,
    stop_reason: answer.stop.stop_reason,
    stop_sequence: answer.stop.stop_sequence,
    usage: anthropicUsage(answer.usage),
  };
}

export interface AnswerUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens?: number | undefined;
}

/** A tool call as a tool_use block; arguments that are not a JSON object become an empty input. */
export function toolUseBlock(call: { id: string; function: { name: string; arguments: string } }): Json {
  const input = parseArguments(call.function.arguments);
  return { type: "tool_use", id: call.id, name: call.function.name, input: input !== null && typeof input === "object" && !Array.isArray(input) ? input : {} };
}

/** Usage as Anthropic counts it: input_tokens without the cache reads, which it reports apart. */
export function anthropicUsage(usage: AnswerUsage | undefined): Json {
  const cached = Math.min(usage?.cachedTokens ?? 0, usage?.promptTokens ?? 0);
  return {
    input_tokens: (usage?.promptTokens ?? 0) - cached,
    output_tokens: usage?.completionTokens ?? 0,
    // Cache writes are not told apart by OpenAI-shaped usage: counted in input_tokens.
    cache_creation_input_tokens: null,
    cache_read_input_tokens: cached,
  };
}
