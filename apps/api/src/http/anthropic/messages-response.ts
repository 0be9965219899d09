/**
 * The chat service's answers in Anthropic's wire format: a whole `message`, built by the same
 * mapping the Anthropic provider reads answers with, the other way round
 * (providers/anthropic-translate.ts): text, tool calls as tool_use blocks, the finish reason
 * as a stop_reason, usage in Anthropic's counting.
 */
import { randomUUID } from "node:crypto";
import type { AnswerChoice, AnthropicStop, ChoiceChunk } from "../../providers/types.ts";
import { stopReasonOf, toAnthropicMessage, type AnswerUsage, type OpenAIToolCall } from "../../providers/anthropic-translate.ts";
import { cachedTokensOf } from "../../services/gateway/answer-output.ts";
import type { ChainResult } from "../../services/gateway/chain-types.ts";

export function messageId(): string {
  return `msg_${randomUUID().replaceAll("-", "")}`;
}

/**
 * Why an answer ended, as Anthropic says it. An Anthropic upstream said it itself (its
 * stop_reason and matched sequence, carried on the choice as `anthropic_stop`), and is taken at
 * its word: pause_turn or a stop sequence is what its client must hear. OpenAI's protocol does
 * not say which stop sequence ended an answer, but vLLM and servers like it put the matched
 * sequence in the choice's `stop_reason`; otherwise an answer that stopped is `end_turn`,
 * whether at a sequence or not.
 */
export function stopOf(choice: AnswerChoice | ChoiceChunk | undefined, finishReason: string | null | undefined, stopSequences: readonly string[]): AnthropicStop {
  const upstream = choice?.anthropic_stop;
  if (typeof upstream?.stop_reason === "string") return { stop_reason: upstream.stop_reason, stop_sequence: typeof upstream.stop_sequence === "string" ? upstream.stop_sequence : null };
  const said = (choice as { stop_reason?: unknown } | undefined)?.stop_reason;
  if (finishReason === "stop" && typeof said === "string" && stopSequences.includes(said)) return { stop_reason: "stop_sequence", stop_sequence: said };
  return { stop_reason: stopReasonOf(finishReason), stop_sequence: null };
}

export function usageOfResult(result: Pick<ChainResult, "usage" | "usageDetails">): AnswerUsage {
  return { promptTokens: result.usage.promptTokens, completionTokens: result.usage.completionTokens, cachedTokens: cachedTokensOf(result.usageDetails) };
}

/** Choice 0 (or the text-only answer) as an Anthropic message. */
export function messageBody(id: string, result: Pick<ChainResult, "content" | "finishReason" | "choices" | "model" | "usage" | "usageDetails">, stopSequences: readonly string[]) {
  return anthropicMessageOf(id, result.model, result.choices?.[0] ?? { index: 0, message: { content: result.content }, finish_reason: result.finishReason }, usageOfResult(result), stopSequences, result.finishReason);
}

/** One choice as an Anthropic message; a refusal reads as its text. */
export function anthropicMessageOf(id: string, model: string, choice: AnswerChoice, usage: AnswerUsage | undefined, stopSequences: readonly string[], finishReason?: string | null) {
  const message = choice.message;
  const content = typeof message.content === "string" && message.content !== "" ? message.content : typeof message.refusal === "string" ? message.refusal : "";
  const toolCalls = ((message.tool_calls ?? []) as Array<Partial<OpenAIToolCall>>)
    .filter((c) => c.function !== undefined)
    .map((c) => ({ id: c.id ?? toolUseId(), type: "function" as const, function: { name: c.function!.name ?? "", arguments: c.function!.arguments ?? "" } }));
  const finish = choice.finish_reason ?? finishReason ?? null;
  return toAnthropicMessage({ id, model, content, toolCalls, stop: stopOf(choice, finish, stopSequences), usage });
}

/** An id for a tool call its provider sent without one (some local servers do). */
export function toolUseId(): string {
  return `toolu_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
}
