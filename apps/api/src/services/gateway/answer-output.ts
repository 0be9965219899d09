/**
 * What a provider's answer amounts to, for the chain: a stream's pieces turned into chain
 * events with the stream's running state (its text, its finish, whether anything a client
 * would see has arrived), whether a whole answer has output at all, and its usage.
 */
import type { TChatUsage } from "@switchboard/schema";
import type { ChoiceChunk, ProviderChunk, ProviderCompletion, ProviderUsage } from "../../providers/types.ts";
import type { ChainEvent, ChainRequest } from "./chain-types.ts";

export interface StreamState {
  /** Choice 0's text so far. */
  content: string;
  /** Choice 0's finish reason, once sent. */
  finishReason: string | undefined;
  /** Some choice finished: a stream closing without that was cut. */
  finished: boolean;
  /** Something a client would see arrived (text, a tool call, a refusal, a telling finish). */
  output: boolean;
  reported: ProviderUsage | undefined;
  systemFingerprint: string | null | undefined;
}

export const newStreamState = (): StreamState => ({ content: "", finishReason: undefined, finished: false, output: false, reported: undefined, systemFingerprint: undefined });

/** Delta fields that are bookkeeping, not output. */
const NON_OUTPUT_FIELDS = new Set(["role", "content", "refusal", "tool_calls"]);

const filled = (v: unknown) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0);

/** Whether a choice piece carries output: text, a refusal, a tool call, or any other field (reasoning…). */
function carriesOutput(delta: ChoiceChunk["delta"]): boolean {
  if (filled(delta.content) || filled(delta.refusal) || filled(delta.tool_calls)) return true;
  return Object.keys(delta).some((k) => !NON_OUTPUT_FIELDS.has(k) && filled(delta[k]));
}

/**
 * A finish other than "stop" is an answer even with no text (length, content_filter,
 * tool_calls): the client must learn it. "stop" with nothing before it is an empty reply.
 */
const tellingFinish = (reason: string | null | undefined) => typeof reason === "string" && reason !== "stop";

/** A provider chunk as chain events; updates the stream's state. */
export function absorb(chunk: ProviderChunk, s: StreamState): ChainEvent[] {
  switch (chunk.type) {
    case "usage":
      s.reported = chunk.usage;
      return [];
    case "delta":
      if (chunk.text.length === 0) return [];
      s.content += chunk.text;
      s.output = true;
      return [{ type: "choice", choice: { index: 0, delta: { content: chunk.text }, finish_reason: null } }, { type: "delta", text: chunk.text }];
    case "finish":
      s.finished = true;
      s.finishReason = chunk.reason;
      if (tellingFinish(chunk.reason)) s.output = true;
      return [{ type: "choice", choice: { index: 0, delta: {}, finish_reason: chunk.reason } }];
    case "choice": {
      const { choice } = chunk;
      if (chunk.systemFingerprint !== undefined && chunk.systemFingerprint !== null) s.systemFingerprint = chunk.systemFingerprint;
      const events: ChainEvent[] = [{ type: "choice", choice, systemFingerprint: chunk.systemFingerprint, extras: chunk.extras }];
      if (choice.finish_reason) {
        s.finished = true;
        if (choice.index === 0) s.finishReason = choice.finish_reason;
        if (tellingFinish(choice.finish_reason)) s.output = true;
      }
      if (carriesOutput(choice.delta)) s.output = true;
      const text = choice.delta.content;
      if (choice.index === 0 && typeof text === "string" && text.length > 0) {
        s.content += text;
        events.push({ type: "delta", text });
      }
      return events;
    }
  }
}

/** A whole answer is empty when no choice has text, a tool call, a refusal or a telling finish. */
export function completionHasOutput(result: ProviderCompletion): boolean {
  if (result.content.length > 0 || tellingFinish(result.finishReason)) return true;
  return (result.choices ?? []).some((c) => tellingFinish(c.finish_reason) || carriesOutput(c.message));
}

/**
 * More tokens than any one call has: an upstream's count past it is not believed. Kept low
 * enough that a request's calls summed still fit the request log's 32-bit columns.
 */
const MAX_CALL_TOKENS = 100_000_000;

/**
 * A token count an upstream reported, as booked (metrics, the request log, budgets): a whole
 * number from 0 to MAX_CALL_TOKENS; undefined for anything else (a negative, fractional or
 * non-finite count — JSON's 1e309 parses as Infinity — is not a count).
 */
export function tokenCount(reported: unknown): number | undefined {
  return typeof reported === "number" && Number.isSafeInteger(reported) && reported >= 0 && reported <= MAX_CALL_TOKENS ? reported : undefined;
}

/** Tokens in `chars` characters of text, as estimated where no upstream counted them (≈4 characters per token). */
export const estimatedTokens = (chars: number) => Math.ceil(chars / 4);

/** The prompt tokens of messages, estimated as for an upstream that reports no usage. */
export const estimatedPromptTokens = (messages: ReadonlyArray<{ content: string }>) => estimatedTokens(messages.reduce((n, m) => n + m.content.length, 0));

/** Upstream usage when reported (and believable); otherwise an estimate (≈4 characters per token). */
export function usageOf(reported: ProviderUsage | undefined, request: ChainRequest, content: string): TChatUsage {
  const promptTokens = tokenCount(reported?.promptTokens) ?? estimatedPromptTokens(request.messages);
  const completionTokens = tokenCount(reported?.completionTokens) ?? estimatedTokens(content.length);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** Cached prompt tokens as OpenAI reports them (Anthropic's cache reads are translated to the same place). */
export function cachedTokensOf(details: Record<string, unknown> | undefined): number | undefined {
  const prompt = details?.prompt_tokens_details;
  if (!prompt || typeof prompt !== "object") return undefined;
  return tokenCount((prompt as { cached_tokens?: unknown }).cached_tokens);
}
