/**
 * An Anthropic Messages request → the Chat Completions request it means, then the same parse
 * as `/v1/chat/completions` (routing, limits, the same forwarding), as the Responses API
 * does. The reverse of what the Anthropic provider sends upstream
 * (providers/anthropic-translate.ts): system → a system message; text and image blocks →
 * content parts; an assistant's tool_use blocks → its tool_calls; tool_result blocks → tool
 * messages, ahead of the rest of their user turn (chat wants a call's result right after it).
 * Only the fields chat has a name for are forwarded, and Anthropic's prompt-caching markers
 * (cache_control) on the parts, messages and tools their blocks become, as LiteLLM's users
 * write them: the Anthropic provider puts them back on its blocks, an OpenAI-protocol provider
 * takes them out (ProviderRequest.cacheMarks). What else tunes Anthropic's own service
 * (top_k, thinking, service_tier…) has no provider to read it here, and an OpenAI upstream
 * would refuse it.
 */
import { ZAnthropicCountTokensRequest, ZAnthropicMessagesRequest, type TAnthropicContentBlock, type TAnthropicCountTokensRequest, type TAnthropicMessage } from "@switchboard/schema";
import { AppError } from "../../services/errors.ts";
import type { ProviderRegistry } from "../../services/gateway/registry.ts";
import { appErrorOfZod } from "../error-map.ts";
import { parseChatRequest, type ParsedChatRequest } from "../chat/chat-request.ts";

type Json = Record<string, unknown>;

export interface ParsedMessagesRequest extends ParsedChatRequest {
  /** The stop sequences asked for, to name the one an answer ended on. */
  stopSequences: string[];
}

type Block<T extends TAnthropicContentBlock["type"]> = Extract<TAnthropicContentBlock, { type: T }>;

/** A block's (or tool's) prompt-caching marker, for the part, message or tool it becomes. */
const markerOf = (holder: unknown): Json => {
  const marker = (holder as { cache_control?: unknown } | null | undefined)?.cache_control;
  return marker !== null && typeof marker === "object" ? { cache_control: marker } : {};
};
const marked = (holder: unknown) => markerOf(holder).cache_control !== undefined;

/** Whether the request marks anything for caching (its translation then carries markers). */
function asksForCaching(data: TAnthropicCountTokensRequest): boolean {
  if (Array.isArray(data.system) && data.system.some(marked)) return true;
  if ((data.tools ?? []).some(marked)) return true;
  return data.messages.some(
    (m) => typeof m.content !== "string" && m.content.some((b) => marked(b) || (b.type === "tool_result" && Array.isArray(b.content) && b.content.some(marked))),
  );
}

function imagePart(block: Block<"image">): Json {
  const source = block.source;
  const url = source.type === "base64" ? `data:${source.media_type};base64,${source.data}` : source.url;
  return { type: "image_url", image_url: { url } };
}

const textOfBlocks = (blocks: ReadonlyArray<{ type: string; text?: unknown }>) =>
  blocks
    .filter((b) => b.type === "text")
    .map((b) => String(b.text))
    .join("\n\n");

/** A user turn: its tool results as tool messages first, then its text and images (with any images a tool returned). */
function userMessages(content: Exclude<TAnthropicMessage["content"], string>): Json[] {
  const tools: Json[] = [];
  const parts: Json[] = [];
  for (const block of content) {
    if (block.type === "tool_result") {
      const result = block.content ?? "";
      const text = typeof result === "string" ? result : textOfBlocks(result);
      // A marker inside the result marks the whole of it: chat's tool message is one text.
      const marker = { ...(typeof result === "string" ? {} : markerOf(result.findLast(marked))), ...markerOf(block) };
      // Chat's tool messages have no error flag: the words say the tool failed, or the model
      // would read an error's text as the tool's answer.
      tools.push({ role: "tool", tool_call_id: block.tool_use_id, content: block.is_error === true ? `Error: ${text || "the tool failed"}` : text, ...marker });
      // Chat's tool messages carry text only: a tool's images go to the model in the user turn.
      if (typeof result !== "string") for (const b of result) if (b.type === "image") parts.push({ ...imagePart(b), ...markerOf(b) });
    } else if (block.type === "text") parts.push({ type: "text", text: block.text, ...markerOf(block) });
    else if (block.type === "image") parts.push({ ...imagePart(block), ...markerOf(block) });
  }
  return parts.length > 0 ? [...tools, { role: "user", content: parts }] : tools;
}

/**
 * An assistant turn: its text, and its tool_use blocks as tool_calls (earlier thinking is left
 * out). A caching marker on any of its blocks marks the message, which the Anthropic provider
 * puts on the turn's last block: the cached prefix ends with the turn, a little later at most.
 */
function assistantMessage(content: Exclude<TAnthropicMessage["content"], string>): Json {
  const calls = content
    .filter((b): b is Block<"tool_use"> => b.type === "tool_use")
    .map((b) => ({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.input) } }));
  const text = textOfBlocks(content);
  const marker = markerOf(content.findLast(marked));
  return calls.length > 0 ? { role: "assistant", content: text === "" ? null : text, tool_calls: calls, ...marker } : { role: "assistant", content: text, ...marker };
}

/** The system prompt: one text, or text parts with their markers when one is marked for caching. */
function systemMessage(system: TAnthropicCountTokensRequest["system"]): Json | undefined {
  if (Array.isArray(system) && system.some(marked)) return { role: "system", content: system.filter((b) => b.text !== "").map((b) => ({ type: "text", text: b.text, ...markerOf(b) })) };
  const text = typeof system === "string" ? system : textOfBlocks(system ?? []);
  return text === "" ? undefined : { role: "system", content: text };
}

/** Blocks only the other role sends: a translation would drop them without a word, and Anthropic's API refuses them. */
const MISPLACED: Record<TAnthropicMessage["role"], { type: string; belongs: string }> = {
  user: { type: "tool_use", belongs: "an assistant turn (the model's call)" },
  assistant: { type: "tool_result", belongs: "a user turn (the result of an assistant's tool_use)" },
};

function refuseMisplacedBlocks(messages: readonly TAnthropicMessage[]): void {
  messages.forEach((message, i) => {
    if (typeof message.content === "string") return;
    const misplaced = MISPLACED[message.role];
    const at = message.content.findIndex((b) => b.type === misplaced.type);
    if (at < 0) return;
    const param = `messages.${i}.content.${at}`;
    throw new AppError("BAD_REQUEST", `${param}: a ${misplaced.type} block belongs in ${misplaced.belongs}, not a ${message.role} turn`, { details: { param } });
  });
}

/** Anthropic's API refuses an empty text block; left out here, a turn could lose all it said without a word. */
function refuseEmptyText(messages: readonly TAnthropicMessage[]): void {
  messages.forEach((message, i) => {
    if (typeof message.content === "string") return;
    const at = message.content.findIndex((b) => b.type === "text" && b.text === "");
    if (at < 0) return;
    const param = `messages.${i}.content.${at}.text`;
    throw new AppError("BAD_REQUEST", `${param}: text content blocks must be non-empty`, { details: { param } });
  });
}

function chatMessages(data: TAnthropicCountTokensRequest): Json[] {
  refuseMisplacedBlocks(data.messages);
  refuseEmptyText(data.messages);
  const out: Json[] = [];
  const system = systemMessage(data.system);
  if (system) out.push(system);
  for (const message of data.messages) {
    if (typeof message.content === "string") out.push({ role: message.role, content: message.content });
    else if (message.role === "user") out.push(...userMessages(message.content));
    else out.push(assistantMessage(message.content));
  }
  return out;
}

/** A tool_choice naming a tool the request does not offer: Anthropic's API refuses it, and a provider would answer with a 400 of its own words. */
function refuseUnknownToolChoice(data: TAnthropicCountTokensRequest): void {
  const choice = data.tool_choice;
  if (choice?.type !== "tool" || (data.tools ?? []).some((t) => t.name === choice.name)) return;
  throw new AppError("BAD_REQUEST", `tool_choice.name: no tool named "${choice.name}" in tools`, { details: { param: "tool_choice.name" } });
}

/** The request's other fields, under their chat names; absent ones stay absent (the provider's defaults). */
function chatFields(data: TAnthropicCountTokensRequest): Json {
  refuseUnknownToolChoice(data);
  const fields: Json = {};
  const set = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) fields[name] = value;
  };
  set("temperature", data.temperature);
  set("top_p", data.top_p);
  if (data.stop_sequences && data.stop_sequences.length > 0) set("stop", data.stop_sequences);
  set("user", data.metadata?.user_id);
  const tools = data.tools ?? [];
  if (tools.length === 0) return fields;
  set(
    "tools",
    tools.map((t) => ({ type: "function", function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema }, ...markerOf(t) })),
  );
  const choice = data.tool_choice;
  if (choice?.type === "auto") set("tool_choice", "auto");
  if (choice?.type === "any") set("tool_choice", "required");
  if (choice?.type === "none") set("tool_choice", "none");
  if (choice?.type === "tool") set("tool_choice", { type: "function", function: { name: choice.name } });
  if (choice && choice.type !== "none" && choice.disable_parallel_tool_use === true) set("parallel_tool_calls", false);
  return fields;
}

export function parseMessagesRequest(registry: ProviderRegistry, body: unknown, limits: { maxTextChars: number }): ParsedMessagesRequest {
  const parsed = ZAnthropicMessagesRequest.safeParse(body);
  if (!parsed.success) throw appErrorOfZod(parsed.error);
  const data = parsed.data;
  const chat = { model: data.model, messages: chatMessages(data), max_completion_tokens: data.max_tokens, ...chatFields(data), ...(data.stream ? { stream: true } : {}) };
  const parsedChat = parseChatRequest(registry, chat, limits);
  if (asksForCaching(data)) parsedChat.request.cacheMarks = true;
  return { ...parsedChat, stopSequences: data.stop_sequences ?? [] };
}

/** A count_tokens request as the chat request it would make (its messages are what is counted). */
export function parseCountTokensRequest(registry: ProviderRegistry, body: unknown, limits: { maxTextChars: number }): ParsedChatRequest {
  const parsed = ZAnthropicCountTokensRequest.safeParse(body);
  if (!parsed.success) throw appErrorOfZod(parsed.error);
  return parseChatRequest(registry, { model: parsed.data.model, messages: chatMessages(parsed.data), ...chatFields(parsed.data) }, limits);
}
