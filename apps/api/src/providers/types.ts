/**
 * What a model provider is to the rest of Switchboard. A provider makes one upstream call
 * and reports failures as `ProviderError` with a classified outcome; retrying, fallback and
 * circuit breaking belong to the chain (services/gateway/provider-chain.ts), not here.
 */
import type { TProviderId } from "@switchboard/schema";

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
  messages: ChatMessage[];
  /** Overrides the provider's configured model. */
  model?: string | undefined;
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  responseFormat?: ResponseFormat | undefined;
  /** Aborts the upstream call (timeouts, client disconnect, emergency stop). */
  signal: AbortSignal;
}

export interface ProviderUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface ProviderCompletion {
  content: string;
  model: string;
  /** Undefined when the upstream did not report usage. */
  usage: ProviderUsage | undefined;
}

export type ProviderChunk =
  | { type: "delta"; text: string }
  | { type: "usage"; usage: ProviderUsage }
  /** The upstream said the answer is complete (finish_reason); a stream ending without it was cut. */
  | { type: "finish"; reason: string };

export interface ChatProvider {
  readonly id: TProviderId;
  readonly kind: "openai-compatible" | "template";
  readonly model: string;
  /** Configured (URL/key present). The registry combines this with PROVIDER_ORDER. */
  readonly configured: boolean;
  readonly baseUrl: string | null;
  complete(request: ProviderRequest): Promise<ProviderCompletion>;
  /** Yields deltas as they arrive; throws ProviderError on failure. */
  stream(request: ProviderRequest): AsyncIterable<ProviderChunk>;
}

/** How a provider call failed; decides fallback, circuit accounting and the attempt report. */
export type ProviderFailureKind = "timeout" | "rate_limited" | "http_error" | "connection_error" | "malformed" | "aborted";

export class ProviderError extends Error {
  readonly kind: ProviderFailureKind;
  readonly status: number | undefined;
  /** From a 429's Retry-After header, when present. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: ProviderFailureKind, message: string, opts: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "ProviderError";
    this.kind = kind;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}
