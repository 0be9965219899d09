/**
 * What a model provider is to the rest of Switchboard. A provider makes one upstream call
 * and reports failures as `ProviderError` with a classified outcome; retrying, fallback and
 * circuit breaking belong to the chain (services/gateway/provider-chain.ts), not here.
 */
import type { TProviderId, TProviderKind } from "@switchboard/schema";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Structured output: the reply must be JSON matching `schema` (a JSON Schema object). */
export interface ResponseFormat {
  name: string;
  schema: Record<string, unknown>;
}

export interface ProviderRequest {
  /** The conversation as text: for limits, token estimates and providers that need no more. */
  messages: ChatMessage[];
  /**
   * The caller's own request in OpenAI's chat-completions shape (tools, tool_choice,
   * response_format, content parts, tool messages, sampling fields, vendor fields), without
   * `model` and `stream`. Providers forward it unchanged (those speaking another protocol
   * translate what they can); its `messages` replace the text digest above when present.
   */
  passthrough?: Record<string, unknown> | undefined;
  /**
   * The passthrough carries prompt-caching markers (`cache_control` on messages, content parts
   * and tools, as LiteLLM's users write them) that the gateway put there itself, translating
   * an Anthropic Messages request. An Anthropic provider sends them on; an OpenAI-protocol
   * provider takes them out, as such upstreams refuse fields they do not know. Markers a chat
   * client wrote itself are its own to send, and stay.
   */
  cacheMarks?: true | undefined;
  /** Overrides the provider's configured model. */
  model?: string | undefined;
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  responseFormat?: ResponseFormat | undefined;
  /** Aborts the upstream call (timeouts, client disconnect, emergency stop). */
  signal: CallSignal;
}

/**
 * What a provider needs of its call's abort signal. An AbortSignal has it; so does the
 * chain's lighter CallAbort (services/gateway/call-outcome.ts), made once per upstream call,
 * where Node 20 takes 4–9 µs to make an AbortSignal.
 */
export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface ProviderUsage {
  promptTokens: number;
  completionTokens: number;
  /** The rest of the usage object as reported (prompt_tokens_details, completion_tokens_details…). */
  details?: Record<string, unknown> | undefined;
}

/**
 * Why an Anthropic upstream's answer ended, in its own words: `stop_reason` (end_turn,
 * stop_sequence, pause_turn…) and the stop sequence it matched, which a finish_reason cannot
 * say ("stop" covers them all). Set by the Anthropic provider on the choice that finished, for
 * the Anthropic-shaped front door to answer with; OpenAI answers name a choice's fields one
 * by one (http/openai/chat-response.ts) and never show it.
 */
export interface AnthropicStop {
  stop_reason: string;
  stop_sequence: string | null;
}

/**
 * One choice of a whole answer, in OpenAI's shape (the lingua franca of the gateway):
 * `message` holds content, refusal, tool_calls and whatever else the provider sent.
 */
export interface AnswerChoice {
  index: number;
  message: { role?: string; content?: string | null; refusal?: string | null; tool_calls?: unknown[]; [field: string]: unknown };
  finish_reason: string | null;
  logprobs?: unknown;
  anthropic_stop?: AnthropicStop | undefined;
}

export interface ProviderCompletion {
  /** Choice 0's text ("" for a tool-call answer). */
  content: string;
  /** Choice 0's finish reason as the provider sent it (stop, length, tool_calls, content_filter…). */
  finishReason: string;
  /** Every choice as sent; absent from providers that answer with text only. */
  choices?: AnswerChoice[] | undefined;
  systemFingerprint?: string | null | undefined;
  /** The answer's other top-level fields, as a vendor sent them (service_tier, citations…). */
  extras?: Record<string, unknown> | undefined;
  model: string;
  /** Undefined when the upstream did not report usage. */
  usage: ProviderUsage | undefined;
}

/** One streamed piece of one choice, in OpenAI's chunk shape (delta: content, tool_calls…). */
export interface ChoiceChunk {
  index: number;
  delta: { role?: string; content?: string | null; refusal?: string | null; tool_calls?: unknown[]; [field: string]: unknown };
  finish_reason: string | null;
  logprobs?: unknown;
  /** With the finish_reason, from an Anthropic upstream. */
  anthropic_stop?: AnthropicStop | undefined;
}

export type ProviderChunk =
  /** Text of choice 0, from providers that stream text only. */
  | { type: "delta"; text: string }
  /** A piece of any choice, as the upstream sent it. */
  | { type: "choice"; choice: ChoiceChunk; systemFingerprint?: string | null | undefined; extras?: Record<string, unknown> | undefined }
  | { type: "usage"; usage: ProviderUsage }
  /** Choice 0 is complete (finish_reason), from text-only providers; a stream ending without it was cut. */
  | { type: "finish"; reason: string };

/** An embeddings request in OpenAI's shape (input, encoding_format, dimensions, user…), without `model`. */
export interface EmbeddingRequest {
  model: string;
  body: Record<string, unknown>;
  signal: CallSignal;
}

export interface EmbeddingResult {
  /** The `data` array as the provider sent it. */
  data: unknown[];
  model: string;
  usage: { promptTokens: number; totalTokens: number } | undefined;
}

export interface ChatProvider {
  readonly id: TProviderId;
  readonly kind: TProviderKind;
  readonly model: string;
  /** Configured (URL/key present). The registry combines this with PROVIDER_ORDER. */
  readonly configured: boolean;
  readonly baseUrl: string | null;
  /** This provider's own call timeout; the chain's default when undefined. */
  readonly timeoutMs?: number | undefined;
  complete(request: ProviderRequest): Promise<ProviderCompletion>;
  /** Yields deltas as they arrive; throws ProviderError on failure. */
  stream(request: ProviderRequest): AsyncIterable<ProviderChunk>;
  /** Present on providers that offer embeddings. */
  embed?(request: EmbeddingRequest): Promise<EmbeddingResult>;
}

/** An upstream's own error object ({message, type, param, code}), kept for pass-through. */
export interface UpstreamError {
  message?: unknown;
  type?: unknown;
  param?: unknown;
  code?: unknown;
}

/**
 * How a provider call failed; decides fallback, circuit accounting and the attempt report.
 * `overloaded`: this instance had no room to read the answer (upstream-answer-room.ts).
 */
export type ProviderFailureKind = "timeout" | "rate_limited" | "http_error" | "connection_error" | "malformed" | "aborted" | "unsupported" | "overloaded";

export class ProviderError extends Error {
  readonly kind: ProviderFailureKind;
  readonly status: number | undefined;
  /** From a 429's Retry-After header, when present. */
  readonly retryAfterMs: number | undefined;
  /** The error object the upstream answered with, when it sent one. */
  readonly upstream: UpstreamError | undefined;
  /** For `unsupported`: the request field this provider cannot serve (e.g. `n`). */
  readonly param: string | undefined;

  constructor(
    kind: ProviderFailureKind,
    message: string,
    opts: { status?: number; retryAfterMs?: number; upstream?: UpstreamError; param?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "ProviderError";
    this.kind = kind;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.upstream = opts.upstream;
    this.param = opts.param;
  }
}
