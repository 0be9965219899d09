import type { TAttemptOutcome, TChatAttempt, TChatUsage, TProviderId } from "@switchboard/schema";
import type { RequestScope } from "../../infra/request-scope.ts";
import type { AnswerChoice, ChoiceChunk, EmbeddingResult, ProviderRequest, UpstreamError } from "../../providers/types.ts";

/**
 * A stop covering the whole request (an emergency freeze, the shutdown deadline): calls
 * `abort` with the reason when it lands (at once if it already has) and returns the
 * unsubscribe. The chain then ends the request as if its caller had gone, with that reason.
 * A callback rather than a signal of its own: see ChatEmergencyHooks.
 */
export type RequestStop = (abort: (reason: unknown) => void) => () => void;

/**
 * What a transport hands a service along with a request: the caller's signal (aborted when it
 * leaves) and the request's scope, where the chain books its upstream calls.
 */
export interface CallerContext {
  signal?: AbortSignal | undefined;
  /**
   * The caller leaving, as a subscription (the HTTP response closing early): what a transport
   * hands over instead of a signal it would make only for this. On Node 20 each AbortSignal
   * costs microseconds to make and to listen to, on every request's critical path.
   */
  leaves?: RequestStop | undefined;
  scope?: RequestScope | undefined;
}

/**
 * The signal of a caller that cannot leave (it gave none): the chain does not listen to it,
 * which on Node 20 saves an abort listener added and removed on every upstream call.
 */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

export interface ChainRequest extends Omit<ProviderRequest, "signal"> {
  /** Use only this provider: no fallback. */
  pinned?: TProviderId | undefined;
  /** Aborted when the caller goes away; the reason is kept. */
  signal: AbortSignal;
  onStop?: RequestStop | undefined;
  /** Rejects a reply that is not acceptable (e.g. invalid structured output) → next provider. */
  accept?: ((content: string) => boolean) | undefined;
  /**
   * The caller's own deadline per call (consensus.timeoutMs), when shorter than the chain's
   * timeout. A call cut by it is reported as a `timeout` but not held against the provider's
   * circuit: the caller chose the limit, it says nothing about the provider's health.
   */
  timeoutMs?: number | undefined;
  /** The request this chain call serves: its call records are booked on it (overhead, log row). */
  scope?: RequestScope | undefined;
}

export interface ChainResult {
  /** Choice 0's text ("" when the answer is tool calls). */
  content: string;
  /** Choice 0's finish reason exactly as the provider sent it. */
  finishReason: string;
  /** Every choice as the provider sent it (tool_calls, refusal, logprobs…), when it sent them. */
  choices?: AnswerChoice[] | undefined;
  systemFingerprint?: string | null | undefined;
  /** A whole answer's other top-level fields, as the provider sent them (service_tier, citations…). */
  extras?: Record<string, unknown> | undefined;
  provider: TProviderId;
  model: string;
  usage: TChatUsage;
  /** The usage's detail objects as reported (cached tokens, reasoning tokens…). */
  usageDetails?: Record<string, unknown> | undefined;
  latencyMs: number;
  attempts: TChatAttempt[];
  /** Answered from the response cache: no provider was called (provider and model are the kept answer's). */
  cached?: true | undefined;
}

export type ChainEvent =
  | { type: "start"; provider: TProviderId; model: string }
  /** Text of choice 0: what a text-only consumer (chat.stream) needs. */
  | { type: "delta"; text: string }
  /** Every piece of every choice as sent (content, tool_calls, refusal, logprobs, finish_reason). */
  | { type: "choice"; choice: ChoiceChunk; systemFingerprint?: string | null | undefined; extras?: Record<string, unknown> | undefined }
  | ({ type: "done" } & ChainResult);

export interface EmbedChainRequest {
  /**
   * A model route's name (its targets of one upstream model are tried: embedding-targets.ts),
   * else the upstream model name, sent as is to each provider tried.
   */
  model: string;
  pinned?: TProviderId | undefined;
  /** The caller's embeddings request (input, encoding_format, dimensions…), forwarded unchanged. */
  body: Record<string, unknown>;
  signal: AbortSignal;
  onStop?: RequestStop | undefined;
  scope?: RequestScope | undefined;
}

export interface EmbedChainResult extends EmbeddingResult {
  provider: TProviderId;
  latencyMs: number;
  attempts: TChatAttempt[];
}

/**
 * One upstream call, as metrics and logs want it. Emitted once per real call
 * (skips cost nothing and are not calls), after the call's outcome is known.
 */
export interface ProviderCallRecord {
  provider: TProviderId;
  model: string;
  /** The route whose prices the call is billed at (undefined: no price applies). */
  pricedAs?: string | undefined;
  mode: "complete" | "stream" | "embed";
  outcome: TAttemptOutcome;
  latencyMs: number;
  /** Time to first token, streams only. */
  ttftMs: number | undefined;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  /** Prompt tokens the provider served from its prompt cache (usage.prompt_tokens_details.cached_tokens). */
  cachedTokens?: number | undefined;
  /** True when an earlier provider of the same request failed or was skipped. */
  fallback: boolean;
  status: number | undefined;
  error: string | undefined;
  /** Epoch ms when the call ended. */
  at: number;
  /** The request the call served, when the chain was given one. */
  scope?: RequestScope | undefined;
}

/**
 * `rejected`: an upstream refused the caller's own request (a 4xx it caused); not retried
 * elsewhere. `overloaded`: this instance had no room to hold an answer; not retried elsewhere
 * either (the next provider's answer would be paid for and likely refused the same way): the
 * caller retries, on this instance or another.
 */
export type ChainFailureKind = "exhausted" | "interrupted" | "idle_timeout" | "aborted" | "rejected" | "overloaded";

/**
 * Why a chain call produced no complete answer. `partial` is the text already streamed
 * (non-empty only for failures after the first token); `abortReason` is why the request
 * ended when `kind` is "aborted" (the caller's signal reason, or the stop's: e.g. an
 * emergency-stop AppError).
 */
export class ChainError extends Error {
  readonly kind: ChainFailureKind;
  readonly attempts: TChatAttempt[];
  readonly partial: { content: string; provider: TProviderId; model: string; usage: TChatUsage; latencyMs: number } | undefined;
  readonly abortReason: unknown;
  /** For `rejected`: the upstream's status and error object, to hand back as sent. */
  readonly rejection: { status: number; upstream: UpstreamError | undefined } | undefined;

  constructor(
    kind: ChainFailureKind,
    message: string,
    opts: { attempts: TChatAttempt[]; partial?: ChainError["partial"]; abortReason?: unknown; rejection?: ChainError["rejection"] },
  ) {
    super(message);
    this.name = "ChainError";
    this.kind = kind;
    this.attempts = opts.attempts;
    this.partial = opts.partial;
    this.abortReason = opts.abortReason;
    this.rejection = opts.rejection;
  }
}
