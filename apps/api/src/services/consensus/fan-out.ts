/**
 * Asks every provider of a run at once and hands back each answer as it arrives. Every call
 * goes through the chat gateway's provider chain pinned to one provider: same circuit
 * breaker, Retry-After cooldowns, freeze skips and per-call metrics records as chat, no
 * fallback to another provider. Failures become answers with a status, never exceptions, so
 * one bad provider cannot sink the run; the run decides about quorum.
 */
import type { TConsensusAnswer } from "@switchboard/schema";
import type { ChatMessage, ChatProvider } from "../../providers/types.ts";
import type { RequestScope } from "../../infra/request-scope.ts";
import { ChainError } from "../gateway/chain-types.ts";
import type { ProviderChain } from "../gateway/provider-chain.ts";

export interface FanOutRequest {
  messages: ChatMessage[];
  providers: readonly ChatProvider[];
  /** Per call; the calls start together, so this bounds the whole fan-out. */
  timeoutMs: number;
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  signal: AbortSignal;
  /** The request the run serves: each call is booked on it. */
  scope?: RequestScope | undefined;
}

/** One pinned call as a consensus answer. Rejects only on a bug (not a ChainError). */
export async function askOne(
  chain: ProviderChain,
  provider: ChatProvider,
  request: Omit<FanOutRequest, "providers">,
): Promise<TConsensusAnswer> {
  try {
    const result = await chain.complete({
      messages: request.messages,
      temperature: request.temperature,
      maxTokens: request.maxTokens,
      timeoutMs: request.timeoutMs,
      pinned: provider.id,
      signal: request.signal,
      scope: request.scope,
    });
    if (result.content.trim() === "") {
      // An answer without text (a refusal, a filtered reply, a reasoning model out of tokens,
      // blank space) holds no opinion: as a vote for "" it could win. It was billed all the same.
      const finish = result.finishReason && result.finishReason !== "stop" ? ` (finish reason: ${result.finishReason})` : "";
      return { provider: provider.id, model: result.model, content: null, latencyMs: result.latencyMs, status: "malformed", usage: result.usage, error: `answered with no text${finish}` };
    }
    return { provider: provider.id, model: result.model, content: result.content, latencyMs: result.latencyMs, status: "success", usage: result.usage };
  } catch (error) {
    if (!(error instanceof ChainError)) throw error;
    // Pinned: exactly one attempt, a real call or a skip (frozen, circuit open, 429 cooldown).
    const attempt = error.attempts[0];
    return {
      provider: provider.id,
      model: attempt?.model ?? provider.model,
      content: null,
      latencyMs: attempt?.latencyMs ?? 0,
      status: attempt?.outcome ?? "aborted",
      usage: null,
      error: attempt?.error ?? error.message,
    };
  }
}

/** Answers in arrival order. Calls still running when the consumer stops are left to their timeout or signal. */
export async function* fanOut(chain: ProviderChain, request: FanOutRequest): AsyncGenerator<TConsensusAnswer> {
  type Settled = { index: number; answer?: TConsensusAnswer; error?: unknown };
  const pending = new Map<number, Promise<Settled>>();
  request.providers.forEach((provider, index) => {
    pending.set(
      index,
      askOne(chain, provider, request).then(
        (answer) => ({ index, answer }),
        (error: unknown) => ({ index, error }),
      ),
    );
  });
  while (pending.size > 0) {
    const settled = await Promise.race(pending.values());
    pending.delete(settled.index);
    if (settled.answer) yield settled.answer;
    else throw settled.error;
  }
}
