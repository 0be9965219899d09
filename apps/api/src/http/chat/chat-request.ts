/**
 * A chat-completions request → the chat service's stateless request: the one parse of every
 * chat-shaped /v1 dialect (a Responses or Anthropic Messages request is translated to the
 * chat-completions body it means first), so routing, limits and forwarding are the same
 * whichever the caller speaks. Validation is what Switchboard itself needs (schema: model,
 * messages, limits, well-formed tools); the body is then forwarded as the client sent it
 * (`passthrough`), minus the two fields the gateway owns: `model` (it routes) and `stream`
 * (it decides per upstream call). Refusals are AppErrors: each dialect gives them its shape.
 */
import { formatCount, ZOpenAIChatRequest, type TOpenAIMessage } from "@switchboard/schema";
import type { ProviderRegistry } from "../../services/gateway/registry.ts";
import type { ChatMessage } from "../../providers/types.ts";
import type { StatelessRequest } from "../../services/chat/chat-service.ts";
import type { BodyCacheTerms } from "./cache-header.ts";
import { findModel } from "../../services/chat/models.ts";
import { AppError } from "../../services/errors.ts";
import { appErrorOfZod } from "../error-map.ts";

export interface ParsedChatRequest {
  request: StatelessRequest;
  stream: boolean;
  /** The client asked for the closing usage chunk (stream_options.include_usage). */
  includeUsage: boolean;
  /** What the body says about keeping its answer (its `store`), for the response cache. */
  cacheTerms: BodyCacheTerms;
}

/** A model name nothing serves (or the caller's API key may not send), pointing at the list of those it may. */
export function modelNotFound(model: string): AppError {
  return new AppError("NOT_FOUND", `The model '${model}' does not exist; GET /v1/models lists the available ones`, {
    details: { openaiCode: "model_not_found", param: "model" },
  });
}

/** Text of a message for limits, estimates and the template: text parts, tool-call arguments. */
function textOf(message: TOpenAIMessage): string {
  const content = message.content;
  const text =
    typeof content === "string"
      ? content
      : (content ?? []).map((p) => (p.type === "text" ? (p as { text: string }).text : p.type === "refusal" ? (p as { refusal: string }).refusal : "")).join("");
  if (message.role !== "assistant" || !message.tool_calls) return text;
  return text + message.tool_calls.map((c) => c.function?.arguments ?? "").join("");
}

/** Characters of text in messages, as the OPENAI_MAX_TEXT_CHARS budget counts them. */
export const textChars = (messages: readonly TOpenAIMessage[]) => messages.reduce((n, m) => n + textOf(m).length, 0);

const digestRole = (role: TOpenAIMessage["role"]): ChatMessage["role"] =>
  role === "developer" || role === "system" ? "system" : role === "user" ? "user" : "assistant";

/** What a request may carry, and how a refusal names what the caller sent. */
export interface ChatRequestLimits {
  /** Characters of text in all (OPENAI_MAX_TEXT_CHARS). */
  maxTextChars: number;
  /** The field a refusal names: `messages`, or `input` for a Responses request. */
  param?: string;
  /** What the refusal says holds the messages, as the caller knows it ("messages hold"). */
  holder?: string;
}

export function parseChatRequest(registry: ProviderRegistry, body: unknown, limits: ChatRequestLimits): ParsedChatRequest {
  const { maxTextChars, param = "messages", holder = "messages hold" } = limits;
  const parsed = ZOpenAIChatRequest.safeParse(body);
  if (!parsed.success) throw appErrorOfZod(parsed.error);
  const data = parsed.data;
  const messages: ChatMessage[] = data.messages.map((m) => ({ role: digestRole(m.role), content: textOf(m) }));
  // Text only: this budget bounds what a request costs upstream in tokens and what the log
  // and the template read. Media parts (image_url, input_audio, file: base64 data URLs of
  // megabytes) are not counted; a photo's size is the body limit's to bound
  // (OPENAI_MAX_BODY_MB), and scaling this budget with it would let text cost far more.
  const chars = textChars(data.messages);
  if (chars > maxTextChars) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `${holder} ${formatCount(chars)} characters of text (limit ${formatCount(maxTextChars)}, the gateway's OPENAI_MAX_TEXT_CHARS): send less, or ask its operator to raise the limit`,
      { details: { param } },
    );
  }
  const choice = findModel(registry, data.model);
  if (!choice) throw modelNotFound(data.model);
  const { pinned, model } = choice;
  // The raw body, not the parsed one: what the client sent is forwarded byte for byte.
  const { model: _model, stream: _stream, ...passthrough } = body as Record<string, unknown>;
  return {
    request: { messages, pinned, model, passthrough },
    stream: data.stream === true,
    includeUsage: data.stream_options?.include_usage === true,
    // Stored completions are the provider's record of every call: a route's cache would skip it.
    cacheTerms: { keep: true, routeDefault: passthrough["store"] !== true },
  };
}
