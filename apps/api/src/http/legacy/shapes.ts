/**
 * The older backends' wire shapes, built from Switchboard's own answers. Shared by the
 * legacy REST routes and the /ws/chat socket, which speak the same event protocol.
 */
import type { TChatSendOutput, TChatStreamEvent, TMetricsSummary } from "@switchboard/schema";
import { errorData, publicMessage, toTRPCError } from "../../trpc/errors.ts";

/** {message, conversationId?, model?} as the old chat clients send it. */
export interface LegacyChatRequest {
  message: unknown;
  conversationId?: unknown;
  model?: unknown;
}

/** Picks the fields the chat procedures know; the procedures validate them (400 on mismatch). */
export function chatInputOf(body: unknown): { message: string; conversationId?: string; model?: string } {
  const b = (body && typeof body === "object" ? body : {}) as LegacyChatRequest;
  return {
    message: b.message as string,
    ...(b.conversationId !== undefined && b.conversationId !== null ? { conversationId: b.conversationId as string } : {}),
    ...(b.model !== undefined && b.model !== null ? { model: b.model as string } : {}),
  };
}

/** The old chat answer: `response` is the reply text (also as `content`). */
export function chatAnswerOf(result: TChatSendOutput & { finishReason?: string }) {
  return {
    response: result.content,
    content: result.content,
    conversationId: result.conversationId,
    messageId: result.messageId,
    model: result.model,
    provider: result.provider,
    usage: result.usage,
    finishReason: result.finishReason ?? "stop",
    latencyMs: result.latencyMs,
  };
}

export type LegacyStreamEvent =
  | { type: "chat_start"; conversationId: string; messageId: string; provider: string; model: string }
  | { type: "chat_delta"; content: string }
  | {
      type: "chat_complete";
      conversationId: string;
      messageId: string;
      content: string;
      provider: string;
      model: string;
      usage: { promptTokens: number; completionTokens: number; totalTokens: number };
      finishReason: string;
      latencyMs: number;
    }
  | { type: "error"; code: string; message: string; retryAfterSec?: number; issues?: unknown };

/** chat.stream events in the streaming backend's protocol (`chat_delta` carries `content`). */
export function legacyStreamEvent(event: TChatStreamEvent): LegacyStreamEvent {
  switch (event.type) {
    case "chat_start":
      return { type: "chat_start", conversationId: event.conversationId, messageId: event.messageId, provider: event.provider, model: event.model };
    case "chat_delta":
      return { type: "chat_delta", content: event.delta };
    case "chat_complete": {
      const e = event as typeof event & { finishReason?: string };
      return {
        type: "chat_complete",
        conversationId: e.conversationId,
        messageId: e.messageId,
        content: e.content,
        provider: e.provider,
        model: e.model,
        usage: e.usage,
        finishReason: e.finishReason ?? "stop",
        latencyMs: e.latencyMs,
      };
    }
    case "error":
      // The same field a refused /ws/chat message carries: when the same request may succeed.
      return { type: "error", code: event.code, message: event.message, ...(event.retryAfterSec ? { retryAfterSec: event.retryAfterSec } : {}) };
  }
}

/**
 * A refusal or fault thrown once events are flowing (an SSE stream whose head is out, a
 * /ws/chat chat), as the `error` event: the code and words its HTTP status body would carry
 * (validation issues and `retryAfterSec` too); a fault of ours is only "Internal error".
 */
export function legacyErrorEvent(thrown: unknown): Extract<LegacyStreamEvent, { type: "error" }> {
  const error = toTRPCError(thrown);
  const { appCode, zodError, retryAfterSec } = errorData(error);
  const internal = appCode === "INTERNAL_SERVER_ERROR";
  return {
    type: "error",
    code: String(appCode),
    message: internal ? "Internal error" : publicMessage(error),
    ...(typeof retryAfterSec === "number" ? { retryAfterSec } : {}),
    ...(zodError ? { issues: zodError } : {}),
  };
}

/** The beta gateway's metrics: `{"ai.<provider>": {calls, successes, failures, successRate, totalTime, avgTime}}`. */
export function legacyMetricsOf(summary: TMetricsSummary): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [provider, m] of Object.entries(summary.ai)) {
    out[`ai.${provider}`] = {
      calls: m.calls,
      successes: m.successes,
      failures: m.failures,
      successRate: m.successRate,
      totalTime: m.totalTime,
      avgTime: m.avgTime,
    };
  }
  return out;
}
