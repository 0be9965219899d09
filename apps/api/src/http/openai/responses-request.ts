/**
 * An OpenAI Responses API request → the Chat Completions request it means, then the same
 * parse as `/v1/chat/completions` (routing, limits, the same forwarding). Every provider
 * Switchboard reaches speaks chat (or is translated from it), so this is the one place
 * that knows the Responses request's shape; what it cannot mean in chat is refused by name.
 */
import { CHAT_LIMITS, formatCount, RESPONSES_STATEFUL_FIELDS, ZOpenAIResponsesRequest, ZResponsesInputItem, type TOpenAIMessage, type TOpenAIResponsesRequest, type TResponsesInputItem } from "@switchboard/schema";
import type { ProviderRegistry } from "../../services/gateway/registry.ts";
import type { ContinuedConversation, ResponseItems } from "../../services/response-items.ts";
import { AppError } from "../../services/errors.ts";
import { appErrorOfZod } from "../error-map.ts";
import { parseChatRequest, textChars, type ChatRequestLimits, type ParsedChatRequest } from "../chat/chat-request.ts";
import { truncatedConversation } from "./responses-truncation.ts";
import { thinkingBlocksIn } from "./reasoning-content.ts";

export interface ParsedResponsesRequest extends ParsedChatRequest {
  /** The request as validated: what the response object echoes (tools, text format, sampling…). */
  echo: TOpenAIResponsesRequest;
  /** The request's own input items, references resolved: what the answer is kept as having answered. */
  input: TResponsesInputItem[];
  /** The conversation it continued (previous_response_id), for the answer to be kept as its next. */
  continued: ContinuedConversation | undefined;
}

type ChatMessage = Record<string, unknown> & { role: string };
type Part = { type: string } & Record<string, unknown>;

/** OpenAI accepts a string for `input`, and messages without `type`: both made explicit here. */
function normalized(body: unknown): unknown {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return body;
  const input = (body as { input?: unknown }).input;
  if (typeof input === "string") return { ...body, input: [{ type: "message", role: "user", content: input }] };
  if (!Array.isArray(input)) return body;
  return { ...body, input: input.map((item: unknown) => (item !== null && typeof item === "object" && !("type" in item) && "role" in item ? { type: "message", ...item } : item)) };
}

/** Input content parts as chat content parts. */
function chatParts(parts: Part[]): Array<Record<string, unknown>> {
  return parts.map((p) => {
    if (p.type === "input_text") return { type: "text", text: p["text"] };
    if (p.type === "input_image") return { type: "image_url", image_url: { url: p["image_url"], ...(p["detail"] ? { detail: p["detail"] } : {}) } };
    return { type: "file", file: { file_data: p["file_data"], ...(p["filename"] ? { filename: p["filename"] } : {}) } };
  });
}

/** Two pieces of one assistant turn's text, either possibly absent. */
const joined = (before: unknown, after: string): string | null => [before, after].filter((t): t is string => typeof t === "string" && t !== "").join("\n\n") || null;

const textOfParts = (parts: Part[]) => parts.map((p) => (p.type === "output_text" || p.type === "input_text" ? String(p["text"]) : "")).join("");

/**
 * The input items as chat messages. `ownFrom`: where the request's own items begin (before
 * it, a continued conversation's), so a refusal names the item as the caller numbered it.
 */
function chatMessages(data: TOpenAIResponsesRequest, ownFrom = 0): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (data.instructions) out.push({ role: "system", content: data.instructions });
  // Signed thinking from a reasoning item, for the assistant turn it led to (the next one).
  let thinking: unknown[] = [];
  const withThinking = (message: ChatMessage | undefined) => {
    if (!message || thinking.length === 0) return;
    message["thinking_blocks"] = [...((message["thinking_blocks"] as unknown[] | undefined) ?? []), ...thinking];
    thinking = [];
  };
  (data.input ?? []).forEach((item, index) => {
    if (item.type !== "reasoning" && item.type !== "message" && item.type !== "function_call") thinking = [];
    if (item.type === "message" && item.role !== "assistant") thinking = [];
    switch (item.type) {
      case "message": {
        const content = item.content as string | Part[];
        if (item.role === "assistant") {
          const refusal = typeof content === "string" ? "" : content.filter((p) => p.type === "refusal").map((p) => String(p["refusal"])).join("");
          const text = typeof content === "string" ? content : textOfParts(content);
          const last = out.at(-1);
          // One turn's output items ([message, function_call, message]) are one assistant
          // message in chat: providers refuse a second one between tool calls and their results.
          if (last?.role === "assistant") {
            last["content"] = joined(last["content"], text);
            if (refusal) last["refusal"] = joined(last["refusal"], refusal);
          } else out.push({ role: "assistant", content: text, ...(refusal ? { refusal } : {}) });
          withThinking(out.at(-1));
        } else {
          out.push({ role: item.role, content: typeof content === "string" ? content : item.role === "user" ? chatParts(content) : textOfParts(content) });
        }
        break;
      }
      case "function_call": {
        const call = { id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments } };
        // Calls made in one turn are one assistant message in chat, after its text if it had any.
        const last = out.at(-1);
        if (last?.role === "assistant") ((last["tool_calls"] ??= []) as unknown[]).push(call);
        else out.push({ role: "assistant", content: null, tool_calls: [call] });
        withThinking(out.at(-1));
        break;
      }
      case "function_call_output": {
        const output = item.output as string | Part[];
        out.push({ role: "tool", tool_call_id: item.call_id, content: typeof output === "string" ? output : textOfParts(output) });
        break;
      }
      case "reasoning": {
        const blocks = thinkingBlocksIn((item as { encrypted_content?: unknown }).encrypted_content);
        if (!blocks) {
          throw new AppError("BAD_REQUEST", "This reasoning item's encrypted_content was changed: send it back as the answer gave it", {
            details: { param: `input.${index - ownFrom}.encrypted_content` },
          });
        }
        thinking.push(...blocks);
        break;
      }
      case "item_reference": // replaced before translation (withReferencedItems)
        break;
    }
  });
  return out;
}

/** The other fields, under their chat names; absent ones stay absent (the provider's defaults). */
function chatFields(data: TOpenAIResponsesRequest): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const set = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) fields[name] = value;
  };
  set(
    "tools",
    data.tools?.map((t) => ({
      type: "function",
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), ...(t.parameters ? { parameters: t.parameters } : {}), ...(typeof t.strict === "boolean" ? { strict: t.strict } : {}) },
    })),
  );
  const choice = data.tool_choice;
  set("tool_choice", typeof choice === "object" && choice !== null ? { type: "function", function: { name: choice.name } } : choice);
  set("parallel_tool_calls", data.parallel_tool_calls);
  const format = data.text?.format;
  if (format?.type === "json_object") set("response_format", { type: "json_object" });
  if (format?.type === "json_schema") {
    const { type: _type, name, schema, description, strict } = format;
    set("response_format", { type: "json_schema", json_schema: { name, schema, ...(description ? { description } : {}), ...(typeof strict === "boolean" ? { strict } : {}) } });
  }
  set("verbosity", data.text?.verbosity);
  set("max_completion_tokens", data.max_output_tokens);
  set("temperature", data.temperature);
  set("top_p", data.top_p);
  if (typeof data.top_logprobs === "number" && data.top_logprobs > 0) {
    set("logprobs", true);
    set("top_logprobs", data.top_logprobs);
  }
  set("reasoning_effort", data.reasoning?.effort);
  // metadata is echoed, not forwarded: Chat Completions accepts it only with store enabled.
  set("user", data.user);
  for (const name of ["service_tier", "prompt_cache_key", "safety_identifier"]) set(name, (data as Record<string, unknown>)[name]);
  return fields;
}

/** Where a request's `item_reference`s and `previous_response_id` are looked up: what is kept for this caller. */
export interface ReferencedItems {
  items: ResponseItems;
  userId: string;
  /** Told the characters a continued conversation keeps, before it is read; throws to refuse it. */
  admitHistory?: (chars: number) => void;
}

/**
 * `input` with each `item_reference` replaced by the output item it names, kept from an
 * earlier answer to the same user; a reference repeated back to back (the AI SDK names a
 * message once per text part) counts once. An unknown or expired id is a 400 naming it.
 */
async function withReferencedItems(source: ReferencedItems, input: TResponsesInputItem[]): Promise<TResponsesInputItem[]> {
  const ids = [...new Set(input.flatMap((item) => (item.type === "item_reference" ? [item.id] : [])))];
  if (ids.length === 0) return input;
  const found = await source.items.find(source.userId, ids);
  const out: TResponsesInputItem[] = [];
  input.forEach((item, index) => {
    if (item.type !== "item_reference") return void out.push(item);
    const before = input[index - 1];
    if (before?.type === "item_reference" && before.id === item.id) return;
    const kept = ZResponsesInputItem.safeParse(found.get(item.id));
    if (!kept.success) {
      throw new AppError(
        "BAD_REQUEST",
        `No output item '${item.id}' is known: an answer's items are kept for an hour, for the user who got them; send the item itself instead of an item_reference ` +
          "(with @ai-sdk/openai: providerOptions.openai.store = false)",
        { details: { param: `input.${index}.id` } },
      );
    }
    out.push(kept.data);
  });
  return out;
}

/**
 * The conversation a `previous_response_id` continues, as input items: every earlier answer's
 * input and output, oldest first. (Its `instructions` are not carried over, as OpenAI does:
 * each request's own go first.) An unknown, expired or another user's answer is a 400.
 */
async function earlierConversation(source: ReferencedItems, responseId: string): Promise<{ items: TResponsesInputItem[]; continued: ContinuedConversation }> {
  const conversation = await source.items.conversation(source.userId, responseId, source.admitHistory);
  const parsed = conversation?.items.map((item) => ZResponsesInputItem.safeParse(item));
  if (!parsed || parsed.some((p) => !p.success)) {
    throw new AppError(
      "BAD_REQUEST",
      `Previous response with id '${responseId}' not found, or an answer before it in its conversation expired or was deleted: answers are kept ` +
        "for an hour after their last continuation, for the user who got them, and not at store: false; send the conversation in input instead",
      { details: { param: "previous_response_id", openaiCode: "previous_response_not_found" } },
    );
  }
  return { items: parsed.map((p) => p.data!), continued: conversation!.continued };
}

/** The messages of a continued conversation and its request, as the caller knows them: for refusals. */
function holderOf(data: TOpenAIResponsesRequest, continues: boolean): string {
  if (continues) return "input, with the conversation of previous_response_id, holds";
  return data.instructions ? "input, with instructions, holds" : "input holds";
}

export async function parseResponsesRequest(
  registry: ProviderRegistry,
  referenced: ReferencedItems,
  body: unknown,
  limits: Pick<ChatRequestLimits, "maxTextChars">,
): Promise<ParsedResponsesRequest> {
  const parsed = ZOpenAIResponsesRequest.safeParse(normalized(body));
  if (!parsed.success) throw appErrorOfZod(parsed.error);
  const data = parsed.data;
  for (const field of RESPONSES_STATEFUL_FIELDS) {
    const value = (data as Record<string, unknown>)[field];
    if (value !== undefined && value !== null) {
      throw new AppError("BAD_REQUEST", `${field} is not supported: Switchboard keeps no conversations or prompts; send the conversation in input, or continue an answer with previous_response_id`, { details: { param: field } });
    }
  }
  if (data.background === true) {
    throw new AppError("BAD_REQUEST", "background is not supported: Switchboard answers while the request is open (stream: true for long answers)", { details: { param: "background" } });
  }
  if (!data.input?.length && !data.previous_response_id && !data.instructions) {
    throw new AppError("BAD_REQUEST", "Missing required parameter: 'input' (a request may leave it out only to answer from previous_response_id or instructions)", {
      details: { param: "input", openaiCode: "missing_required_parameter" },
    });
  }
  const earlier = data.previous_response_id ? await earlierConversation(referenced, data.previous_response_id) : undefined;
  const input = await withReferencedItems(referenced, data.input ?? []);
  const messagesWith = (before: TResponsesInputItem[]) => chatMessages({ ...data, input: [...before, ...input] }, before.length);
  const fits = (before: TResponsesInputItem[]) => {
    const messages = messagesWith(before);
    return messages.length <= CHAT_LIMITS.conversationMaxMessages && textChars(messages as TOpenAIMessage[]) <= limits.maxTextChars;
  };
  const before = data.truncation === "auto" && earlier ? truncatedConversation(earlier.items, fits) : (earlier?.items ?? []);
  const messages = messagesWith(before);
  const holder = holderOf(data, earlier !== undefined);
  // A continued conversation can make more messages than any request's input may hold.
  if (messages.length > CHAT_LIMITS.conversationMaxMessages) {
    throw new AppError("BAD_REQUEST", `${holder} ${formatCount(messages.length)} messages (limit ${formatCount(CHAT_LIMITS.conversationMaxMessages)}): send the conversation, trimmed, in input instead`, {
      details: { param: "input" },
    });
  }
  try {
    return {
      ...parseChatRequest(registry, { model: data.model, messages, ...chatFields(data) }, { ...limits, param: "input", holder }),
      stream: data.stream === true,
      // store: false asks that nothing of the answer be kept: the response cache keeps nothing either.
      cacheTerms: { keep: data.store !== false, routeDefault: true },
      echo: data,
      input,
      continued: earlier?.continued,
    };
  } catch (error) {
    // The translated request's field names mean nothing to this caller: name input instead.
    if (error instanceof AppError && typeof error.details["param"] === "string" && error.details["param"].startsWith("messages")) {
      throw new AppError(error.code, error.message, { details: { ...error.details, param: "input" } });
    }
    throw error;
  }
}
