/**
 * Anthropic's native Messages API through the official `@anthropic-ai/sdk`. Requests come
 * in OpenAI's shape (the gateway's lingua franca) and are translated both ways by
 * anthropic-translate.ts. As with the OpenAI SDK, the SDK's retries are off: fallback and
 * timeouts belong to the chain.
 */
import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { nodeHttpFetch } from "./node-http-fetch.ts";
import { retryAfterMsOf } from "./retry-after.ts";
import { createStreamTranslator, fromAnthropicMessage, toAnthropicParams } from "./anthropic-translate.ts";
import { ProviderError, type ChatProvider, type ProviderChunk, type ProviderCompletion, type ProviderRequest } from "./types.ts";

export interface AnthropicConfig {
  id: string;
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  headers?: Record<string, string>;
  timeoutMs?: number | undefined;
}

/** The SDK appends /v1/messages itself: accept a base URL given with or without /v1. */
export function anthropicBaseUrl(base: string): string {
  return base.replace(/\/+$/, "").replace(/\/v1$/, "");
}

type Json = Record<string, unknown>;

export function createAnthropicProvider(config: AnthropicConfig): ChatProvider {
  const client = new Anthropic({
    baseURL: anthropicBaseUrl(config.baseUrl),
    apiKey: config.apiKey ?? null,
    maxRetries: 0,
    fetch: nodeHttpFetch as unknown as typeof fetch,
    ...(config.headers ? { defaultHeaders: config.headers } : {}),
  });

  function body(request: ProviderRequest): Json {
    const base: Json = request.passthrough ?? { messages: request.messages };
    return {
      ...base,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    };
  }

  function params(request: ProviderRequest): Json {
    const model = request.model ?? config.model;
    const p = toAnthropicParams(body(request), model);
    const format = request.responseFormat;
    if (format) {
      // No JSON mode in the Messages API: ask for it in the system prompt.
      const instruction = `Reply with one JSON object matching this JSON schema, and nothing else:\n${JSON.stringify(format.schema)}`;
      p.system = p.system ? `${String(p.system)}\n\n${instruction}` : instruction;
    }
    return p;
  }

  async function complete(request: ProviderRequest): Promise<ProviderCompletion> {
    let message: unknown;
    try {
      message = await client.messages.create(params(request) as never, { signal: request.signal });
    } catch (error) {
      throw toProviderError(error, request.signal);
    }
    if (typeof message !== "object" || message === null || !Array.isArray((message as Json).content)) {
      throw new ProviderError("malformed", "upstream answered without an Anthropic message");
    }
    const answer = fromAnthropicMessage(message as Json);
    const completion: ProviderCompletion = {
      content: answer.content,
      model: answer.model ?? request.model ?? config.model,
      usage: answer.usage,
      finishReason: answer.finishReason,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: answer.toolCalls.length > 0 && answer.content === "" ? null : answer.content, ...(answer.toolCalls.length > 0 ? { tool_calls: answer.toolCalls } : {}) },
          finish_reason: answer.finishReason,
        },
      ],
    };
    return completion;
  }

  async function* stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    const translator = createStreamTranslator();
    let finished = false;
    try {
      const events: unknown = await client.messages.create({ ...params(request), stream: true } as never, { signal: request.signal });
      for await (const event of events as AsyncIterable<Json>) {
        for (const piece of translator.next(event)) {
          switch (piece.type) {
            case "text":
              yield { type: "delta", text: piece.text };
              break;
            case "tool_call":
              yield {
                type: "choice",
                choice: {
                  index: 0,
                  delta: {
                    tool_calls: [
                      { index: piece.index, ...(piece.id ? { id: piece.id, type: "function" } : {}), function: { ...(piece.name ? { name: piece.name } : {}), arguments: piece.arguments } },
                    ],
                  },
                  finish_reason: null,
                },
              };
              break;
            case "finish":
              finished = true;
              yield { type: "finish", reason: piece.reason };
              break;
            case "usage":
              yield { type: "usage", usage: { promptTokens: piece.promptTokens, completionTokens: piece.completionTokens, details: piece.details } };
              break;
            case "error":
              throw new ProviderError("http_error", `upstream sent an error event: ${piece.message}`);
          }
        }
      }
    } catch (error) {
      throw toProviderError(error, request.signal);
    }
    if (request.signal.aborted) throw new ProviderError("aborted", "request aborted");
    if (!finished) throw new ProviderError("connection_error", "upstream closed the stream before the answer finished");
  }

  return {
    id: config.id,
    kind: "anthropic",
    model: config.model,
    configured: true,
    baseUrl: config.baseUrl,
    timeoutMs: config.timeoutMs,
    complete,
    stream,
  };
}

function toProviderError(error: unknown, signal: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  if (signal.aborted || error instanceof APIUserAbortError) return new ProviderError("aborted", "request aborted", { cause: error });
  if (error instanceof APIConnectionTimeoutError) return new ProviderError("timeout", "upstream timed out", { cause: error });
  if (error instanceof APIConnectionError) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return new ProviderError("connection_error", `cannot reach upstream: ${cause?.code ?? cause?.message ?? error.message}`, { cause: error });
  }
  if (error instanceof APIError) {
    const status = error.status as number | undefined;
    if (status === 429) {
      const retryAfterMs = retryAfterMsOf((name) => (error.headers as Headers | undefined)?.get(name));
      return new ProviderError("rate_limited", "upstream rate limit (429)", { status, cause: error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    const label = status === undefined ? "upstream sent an error event" : `upstream answered ${status}`;
    const message = error.message.length > 200 ? `${error.message.slice(0, 200)}…` : error.message;
    return new ProviderError("http_error", `${label}: ${message}`, { ...(status !== undefined ? { status } : {}), cause: error });
  }
  if (error instanceof SyntaxError) return new ProviderError("malformed", "upstream sent malformed JSON", { cause: error });
  return new ProviderError("connection_error", `upstream connection failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
