/**
 * Any upstream that speaks OpenAI's chat-completions protocol (the self-hosted beta model,
 * DeepSeek, OpenAI, Ollama), on the official `openai` SDK. The SDK's own retries are off:
 * retrying elsewhere is the chain's decision, and a retry here would hide a failing provider
 * from the circuit breaker. Timeouts also belong to the chain, which aborts `signal`.
 */
import OpenAI, { AzureOpenAI, APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import type { ChatCompletionCreateParamsBase } from "openai/resources/chat/completions";
import type { TProviderId, TProviderKind } from "@switchboard/schema";
import { nodeHttpFetch } from "./node-http-fetch.ts";
import { retryAfterMsOf } from "./retry-after.ts";
import {
  ProviderError,
  type AnswerChoice,
  type ChatProvider,
  type ChoiceChunk,
  type EmbeddingRequest,
  type EmbeddingResult,
  type ProviderUsage,
  type ProviderChunk,
  type ProviderCompletion,
  type ProviderRequest,
  type UpstreamError,
} from "./types.ts";

export interface OpenAICompatibleConfig {
  id: TProviderId;
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  configured: boolean;
  /** DeepSeek accepts only `json_object`; the others take a JSON schema. */
  structuredOutput?: "json_schema" | "json_object";
  /** Sent with every request (gateway headers, organisation ids…). */
  headers?: Record<string, string>;
  /** Per-provider timeout; the chain's PROVIDER_TIMEOUT_MS when unset. */
  timeoutMs?: number | undefined;
  /** Azure OpenAI: the model names deployments (/openai/deployments/{model}/…?api-version=). */
  azure?: { apiVersion: string };
  /** Reported kind (an Ollama or Azure provider speaks this protocol too). */
  kind?: TProviderKind;
  /** Offers POST /embeddings (OpenAI, Ollama, self-hosted servers; DeepSeek does not). */
  embeddings?: boolean;
}

export function createOpenAICompatibleProvider(config: OpenAICompatibleConfig): ChatProvider {
  const common = {
    // Self-hosted servers often need no key, but the SDK refuses to start without one.
    apiKey: config.apiKey ?? "not-needed",
    maxRetries: 0,
    logLevel: "off" as const,
    fetch: nodeHttpFetch,
    ...(config.headers ? { defaultHeaders: config.headers } : {}),
  };
  const client = config.azure
    ? new AzureOpenAI({ ...common, endpoint: config.baseUrl, apiVersion: config.azure.apiVersion })
    : new OpenAI({ ...common, baseURL: config.baseUrl });

  function params(request: ProviderRequest): ChatCompletionCreateParamsBase {
    const format = request.responseFormat;
    const passthrough = request.passthrough ?? {};
    const messages = (passthrough["messages"] as ChatCompletionCreateParamsBase["messages"] | undefined) ?? [...request.messages];
    let responseFormat: ChatCompletionCreateParamsBase["response_format"];
    if (format && config.structuredOutput === "json_object") {
      messages.unshift({
        role: "system",
        content: `Reply with one JSON object matching this JSON schema, and nothing else:\n${JSON.stringify(format.schema)}`,
      });
      responseFormat = { type: "json_object" };
    } else if (format) {
      responseFormat = { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: true } };
    }
    // The caller's fields go first and unchanged; only what the gateway decides (the model
    // it routed to, the typed knobs of its own callers) is set over them.
    return {
      ...passthrough,
      model: request.model ?? config.model,
      messages,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
      ...(responseFormat ? { response_format: responseFormat } : {}),
    };
  }

  async function complete(request: ProviderRequest): Promise<ProviderCompletion> {
    let completion: unknown;
    try {
      completion = await client.chat.completions.create({ ...params(request), stream: false }, { signal: request.signal });
    } catch (error) {
      throw toProviderError(error, request.signal);
    }
    // A proxy answering 200 with HTML or a truncated body must not pass for an answer.
    const body = completion as Partial<OpenAI.Chat.Completions.ChatCompletion> | string | null;
    const choices = typeof body === "object" && body !== null && Array.isArray(body.choices) ? (body.choices as unknown as AnswerChoice[]) : undefined;
    const first = choices?.[0];
    if (!choices || !first || typeof first.message !== "object" || first.message === null || typeof body !== "object" || body === null) {
      throw new ProviderError("malformed", "upstream answered without a chat completion");
    }
    const content = first.message.content;
    if (content !== undefined && content !== null && typeof content !== "string") {
      throw new ProviderError("malformed", "upstream answered with non-text content");
    }
    return {
      content: content ?? "",
      finishReason: typeof first.finish_reason === "string" ? first.finish_reason : "stop",
      choices,
      systemFingerprint: body.system_fingerprint,
      model: body.model ?? request.model ?? config.model,
      usage: usageOf(body.usage),
    };
  }

  async function* stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    let finished = false;
    const passthrough = request.passthrough ?? {};
    // Usage is always asked for: metrics and spend need it. The caller's own wish decides
    // whether the usage chunk reaches it (see the OpenAI transport).
    const streamOptions = { ...(passthrough["stream_options"] as object | undefined), include_usage: true };
    try {
      const chunks = await client.chat.completions.create(
        { ...params(request), stream: true, stream_options: streamOptions },
        { signal: request.signal },
      );
      for await (const chunk of chunks) {
        if (typeof chunk !== "object" || chunk === null || !Array.isArray(chunk.choices)) {
          throw new ProviderError("malformed", "upstream sent a stream chunk that is not a chat completion chunk");
        }
        for (const choice of chunk.choices as unknown as ChoiceChunk[]) {
          if (typeof choice !== "object" || choice === null || typeof choice.delta !== "object" || choice.delta === null) {
            throw new ProviderError("malformed", "upstream sent a choice without a delta");
          }
          if (choice.finish_reason) finished = true;
          yield { type: "choice", choice, systemFingerprint: chunk.system_fingerprint };
        }
        const usage = usageOf(chunk.usage);
        if (usage) yield { type: "usage", usage };
      }
    } catch (error) {
      throw toProviderError(error, request.signal);
    }
    // The SDK ends iteration quietly when aborted, and some servers close without [DONE]:
    // neither is a finished answer.
    if (request.signal.aborted) throw new ProviderError("aborted", "request aborted");
    if (!finished) throw new ProviderError("connection_error", "upstream closed the stream before the answer finished");
  }

  async function embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    let response: unknown;
    try {
      response = await client.embeddings.create({ ...(request.body as object), model: request.model } as OpenAI.EmbeddingCreateParams, {
        signal: request.signal,
      });
    } catch (error) {
      throw toProviderError(error, request.signal);
    }
    const body = response as Partial<OpenAI.CreateEmbeddingResponse> | null;
    if (typeof body !== "object" || body === null || !Array.isArray(body.data)) {
      throw new ProviderError("malformed", "upstream answered without embeddings");
    }
    const usage = body.usage;
    return {
      data: body.data,
      model: body.model ?? request.model,
      usage: usage && typeof usage.prompt_tokens === "number" ? { promptTokens: usage.prompt_tokens, totalTokens: usage.total_tokens ?? usage.prompt_tokens } : undefined,
    };
  }

  return {
    id: config.id,
    kind: config.kind ?? "openai-compatible",
    model: config.model,
    configured: config.configured,
    baseUrl: config.baseUrl,
    timeoutMs: config.timeoutMs,
    complete,
    stream,
    ...(config.embeddings ? { embed } : {}),
  };
}

/** Usage with its detail objects kept; undefined when absent or not numeric. */
function usageOf(usage: unknown): ProviderUsage | undefined {
  if (typeof usage !== "object" || usage === null) return undefined;
  const { prompt_tokens, completion_tokens, total_tokens: _total, ...details } = usage as Record<string, unknown>;
  if (typeof prompt_tokens !== "number" || typeof completion_tokens !== "number") return undefined;
  return { promptTokens: prompt_tokens, completionTokens: completion_tokens, ...(Object.keys(details).length > 0 ? { details } : {}) };
}

/** Classifies whatever the SDK or the network threw. */
export function toProviderError(error: unknown, signal: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  if (signal.aborted || error instanceof APIUserAbortError) return new ProviderError("aborted", "request aborted", { cause: error });
  if (error instanceof APIConnectionTimeoutError) return new ProviderError("timeout", "upstream timed out", { cause: error });
  if (error instanceof APIConnectionError) {
    return new ProviderError("connection_error", `cannot reach upstream: ${causeMessage(error)}`, { cause: error });
  }
  if (error instanceof APIError) {
    const status = error.status;
    if (status === 429) {
      const retryAfterMs = retryAfterMsOf(error.headers);
      return new ProviderError("rate_limited", "upstream rate limit (429)", { status, cause: error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    const label = status === undefined ? "upstream sent an error event" : `upstream answered ${status}`;
    // The SDK keeps the body's `error` object: an OpenAI-shaped refusal can be passed on as sent.
    const body = (error as { error?: unknown }).error;
    const upstream = typeof body === "object" && body !== null && typeof (body as UpstreamError).message === "string" ? (body as UpstreamError) : undefined;
    return new ProviderError("http_error", `${label}: ${truncate(error.message)}`, {
      ...(status !== undefined ? { status } : {}),
      ...(upstream ? { upstream } : {}),
      cause: error,
    });
  }
  if (error instanceof SyntaxError) return new ProviderError("malformed", "upstream sent malformed JSON", { cause: error });
  return new ProviderError("connection_error", `upstream connection failed: ${causeMessage(error)}`, { cause: error });
}

function causeMessage(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return truncate(cause?.code ?? cause?.message ?? (error as Error).message ?? String(error));
}

function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
