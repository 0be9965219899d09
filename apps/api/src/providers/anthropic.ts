/**
 * Anthropic's native Messages API: POST {base}/v1/messages, answered with a message or
 * with SSE events, over the transport every provider shares (upstream-http.ts). Requests
 * come in OpenAI's shape (the gateway's lingua franca) and are translated both ways by
 * anthropic-translate.ts; this file knows the URL, the headers and what Anthropic's answers
 * and errors mean. Nothing is retried here: fallback and timeouts belong to the chain.
 */
import { createStreamTranslator, fromAnthropicMessage, jsonReplyInstruction, systemWith, toAnthropicParams } from "./anthropic-translate.ts";
import { jsonHeaders, postForEvents, postJson, wireEndpoint, type WireEndpoint, type WireReply } from "./upstream-http.ts";
import { parseJson, rateLimited, truncate } from "./upstream-reply.ts";
import { ProviderError, type ChatProvider, type ProviderChunk, type ProviderCompletion, type ProviderRequest, type UpstreamError } from "./types.ts";

export interface AnthropicConfig {
  id: string;
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  headers?: Record<string, string>;
  timeoutMs?: number | undefined;
}

/** The API version Anthropic's own SDK (1.x) sends; with it, the key goes as a bearer token. */
export const ANTHROPIC_VERSION = "2026-10-21";

/** The API's root: a base URL is accepted with or without /v1. */
export function anthropicBaseUrl(base: string): string {
  return base.replace(/\/+$/, "").replace(/\/v1$/, "");
}

/** The key and the API version, as every call to Anthropic (the health probe's too) sends them. */
export function anthropicAuthHeaders(apiKey: string | undefined): Record<string, string> {
  return { "anthropic-version": ANTHROPIC_VERSION, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) };
}

type Json = Record<string, unknown>;

export function createAnthropicProvider(config: AnthropicConfig): ChatProvider {
  let messages: WireEndpoint | undefined;
  // Prepared on first use: a bad base URL fails calls, not the provider's creation.
  const endpoint = () => (messages ??= wireEndpoint(`${anthropicBaseUrl(config.baseUrl)}/v1/messages`, jsonHeaders(anthropicAuthHeaders(config.apiKey), config.headers)));

  function params(request: ProviderRequest): Json {
    // One message per call: n > 1 choices would come back as one, which a caller asking for
    // several cannot tell from a short answer. Refused, the chain tries the next provider.
    const n = request.passthrough?.n;
    if (typeof n === "number" && n > 1) throw new ProviderError("unsupported", `anthropic cannot return ${n} choices (n > 1)`, { param: "n" });
    // A request's temperature is not passed on: this API version refuses sampling parameters.
    const body: Json = {
      ...(request.passthrough ?? { messages: request.messages }),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    };
    const p = toAnthropicParams(body, request.model ?? config.model);
    const format = request.responseFormat;
    if (format) {
      // No JSON mode in the Messages API: ask for it in the system prompt.
      p.system = systemWith(p.system as Parameters<typeof systemWith>[0], jsonReplyInstruction(format.schema));
    }
    return p;
  }

  async function complete(request: ProviderRequest): Promise<ProviderCompletion> {
    const reply = await postJson(endpoint(), JSON.stringify(params(request)), request.signal);
    if (reply.status < 200 || reply.status >= 300) throw statusError(reply);
    const message = parseJson(reply.body);
    if (typeof message !== "object" || message === null || !Array.isArray((message as Json).content)) {
      throw new ProviderError("malformed", "upstream answered without an Anthropic message");
    }
    const answer = fromAnthropicMessage(message as Json);
    const calls = answer.toolCalls.length > 0;
    return {
      content: answer.content,
      model: answer.model ?? request.model ?? config.model,
      usage: answer.usage,
      finishReason: answer.finishReason,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: calls && answer.content === "" ? null : answer.content,
            ...(calls ? { tool_calls: answer.toolCalls } : {}),
            // Extended thinking, as OpenAI-shaped clients read it (text) and send it back (blocks).
            ...(answer.reasoning ? { reasoning_content: answer.reasoning } : {}),
            ...(answer.thinkingBlocks.length > 0 ? { thinking_blocks: answer.thinkingBlocks } : {}),
          },
          finish_reason: answer.finishReason,
          ...(answer.stop ? { anthropic_stop: answer.stop } : {}),
        },
      ],
    };
  }

  async function* stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    const reply = await postForEvents(endpoint(), JSON.stringify({ ...params(request), stream: true }), request.signal);
    if ("body" in reply) throw statusError(reply);
    const translator = createStreamTranslator();
    let finished = false;
    for await (const batch of reply.events) {
      for (const event of batch) {
        // Every event names its type twice (`event:` and the data's `type`); the name decides
        // only what carries no message.
        if (event.event === "ping") continue;
        if (event.event === "error") throw errorEvent(event.data);
        const data = parseJson(event.data);
        if (typeof data !== "object" || data === null) throw new ProviderError("malformed", "upstream sent an event that is not a JSON object");
        for (const piece of translator.next(data as Json)) {
          switch (piece.type) {
            case "text":
              yield { type: "delta", text: piece.text };
              break;
            case "reasoning":
              yield { type: "choice", choice: { index: 0, delta: { reasoning_content: piece.text }, finish_reason: null } };
              break;
            case "thinking_block":
              // Whole, once its signature is in: what the client sends back before its tool results.
              yield { type: "choice", choice: { index: 0, delta: { thinking_blocks: [piece.block] }, finish_reason: null } };
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
              // On a choice rather than a bare finish: Anthropic's own stop reason and sequence go with it.
              yield { type: "choice", choice: { index: 0, delta: {}, finish_reason: piece.reason, ...(piece.stop ? { anthropic_stop: piece.stop } : {}) } };
              break;
            case "usage":
              yield { type: "usage", usage: { promptTokens: piece.promptTokens, completionTokens: piece.completionTokens, details: piece.details } };
              break;
            case "error":
              throw new ProviderError("http_error", `upstream sent an error event: ${truncate(piece.message)}`);
          }
        }
      }
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

/**
 * A non-2xx answer: 429 is a rate limit (with how long it asked us to wait); anything else
 * (529 overloaded included) an http_error with the status and Anthropic's error, carried in
 * the OpenAI shape (`upstream`) so that a refusal of the caller's own request (a 400, or a 404
 * naming an unknown model) reaches a pass-through caller as the provider worded it, as an
 * OpenAI-protocol provider's does; a body that is no Anthropic error is quoted instead.
 */
function statusError(reply: WireReply): ProviderError {
  if (reply.status === 429) return rateLimited(reply);
  const upstream = upstreamErrorOf(reply.body);
  const detail = upstream?.message ?? (reply.body.trim() || "no body");
  return new ProviderError("http_error", `upstream answered ${reply.status}: ${truncate(detail)}`, { status: reply.status, ...(upstream ? { upstream } : {}) });
}

/** `event: error` after a 200 (overloaded mid-answer, say), with the same body as an error status. */
function errorEvent(data: string): ProviderError {
  const upstream = upstreamErrorOf(data);
  const detail = upstream?.message ?? (data.trim() || "no detail");
  return new ProviderError("http_error", `upstream sent an error event: ${truncate(detail)}`, upstream ? { upstream } : {});
}

/** Anthropic's `{"type": "error", "error": {"type", "message"}}` as OpenAI's error object; its type names carry over (invalid_request_error, not_found_error…). */
function upstreamErrorOf(body: string): (UpstreamError & { message: string }) | undefined {
  try {
    const error = (JSON.parse(body) as { error?: { message?: unknown; type?: unknown } } | null)?.error;
    if (typeof error?.message !== "string") return undefined;
    return { message: error.message, type: typeof error.type === "string" ? error.type : null, param: null, code: null };
  } catch {
    return undefined;
  }
}
