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
  type ChatProvider,
  type ProviderChunk,
  type ProviderCompletion,
  type ProviderRequest,
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
    const messages = [...request.messages];
    const format = request.responseFormat;
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
    return {
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
    const content = typeof body === "object" && body !== null ? body.choices?.[0]?.message?.content : undefined;
    if (typeof content !== "string" || typeof body !== "object" || body === null) {
      throw new ProviderError("malformed", "upstream answered without a chat completion");
    }
    const usage = body.usage;
    return {
      content,
      model: body.model ?? request.model ?? config.model,
      usage: usage ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } : undefined,
    };
  }

  async function* stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    let finished = false;
    try {
      const chunks = await client.chat.completions.create(
        { ...params(request), stream: true, stream_options: { include_usage: true } },
        { signal: request.signal },
      );
      for await (const chunk of chunks) {
        if (typeof chunk !== "object" || chunk === null || !Array.isArray(chunk.choices)) {
          throw new ProviderError("malformed", "upstream sent a stream chunk that is not a chat completion chunk");
        }
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        if (typeof text === "string" && text.length > 0) yield { type: "delta", text };
        if (choice?.finish_reason) {
          finished = true;
          yield { type: "finish", reason: choice.finish_reason };
        }
        if (chunk.usage) {
          yield { type: "usage", usage: { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens } };
        }
      }
    } catch (error) {
      throw toProviderError(error, request.signal);
    }
    // The SDK ends iteration quietly when aborted, and some servers close without [DONE]:
    // neither is a finished answer.
    if (request.signal.aborted) throw new ProviderError("aborted", "request aborted");
    if (!finished) throw new ProviderError("connection_error", "upstream closed the stream before the answer finished");
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
  };
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
    return new ProviderError("http_error", `${label}: ${truncate(error.message)}`, { ...(status !== undefined ? { status } : {}), cause: error });
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
