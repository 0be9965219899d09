/**
 * The chat service's answers in OpenAI's wire format: `chat.completion` bodies and
 * `chat.completion.chunk` events. Choices, tool calls, refusals, logprobs, finish reasons,
 * usage details and a vendor's own top-level fields are passed on as the provider sent them.
 */
import { randomUUID } from "node:crypto";
import type { ChainResult } from "../../services/gateway/chain-types.ts";
import type { AnswerChoice, ChoiceChunk } from "../../providers/types.ts";

export function completionId(): string {
  return `chatcmpl-${randomUUID().replaceAll("-", "")}`;
}

export function usageBody(usage: ChainResult["usage"], details: Record<string, unknown> | undefined) {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens, ...details };
}

/** One choice of a `chat.completion` body. */
export function choiceBody(c: AnswerChoice, finishReason: string | null) {
  return {
    index: c.index,
    message: { role: "assistant", content: null, refusal: null, ...c.message },
    logprobs: c.logprobs ?? null,
    finish_reason: c.finish_reason ?? finishReason,
  };
}

export function completionBody(id: string, created: number, result: ChainResult) {
  const choices = result.choices?.map((c) => choiceBody(c, result.finishReason)) ?? [
    { index: 0, message: { role: "assistant", content: result.content, refusal: null }, logprobs: null, finish_reason: result.finishReason },
  ];
  return {
    // The provider's own top-level fields first: the gateway's id, model and the rest win.
    ...result.extras,
    id,
    object: "chat.completion",
    created,
    model: result.model,
    choices,
    usage: usageBody(result.usage, result.usageDetails),
    system_fingerprint: result.systemFingerprint ?? null,
  };
}

export interface ChunkContext {
  id: string;
  created: number;
  model: string;
}

/** One `chat.completion.chunk` carrying one choice's piece. */
export function chunkBody(ctx: ChunkContext, choice: ChoiceChunk, systemFingerprint?: string | null, extras?: Record<string, unknown>) {
  return {
    ...extras,
    id: ctx.id,
    object: "chat.completion.chunk",
    created: ctx.created,
    model: ctx.model,
    ...(systemFingerprint !== undefined ? { system_fingerprint: systemFingerprint } : {}),
    choices: [{ index: choice.index, delta: choice.delta, logprobs: choice.logprobs ?? null, finish_reason: choice.finish_reason ?? null }],
  };
}

/** The closing usage chunk (stream_options.include_usage): no choices, the whole usage. */
export function usageChunkBody(ctx: ChunkContext, result: ChainResult) {
  return { id: ctx.id, object: "chat.completion.chunk", created: ctx.created, model: ctx.model, choices: [], usage: usageBody(result.usage, result.usageDetails) };
}
