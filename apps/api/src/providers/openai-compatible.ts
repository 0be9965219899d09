/**
 * Any upstream that speaks OpenAI's chat-completions protocol (the self-hosted beta model,
 * DeepSeek, OpenAI, Ollama, Azure OpenAI): the request body, the URL layout and what the
 * answers mean. The bytes travel through upstream-http.ts. Nothing is retried here: retrying
 * is the chain's decision, and a retry here would hide a failing provider from the circuit
 * breaker. Timeouts also belong to the chain, which aborts `signal`.
 */
import type { TProviderId, TProviderKind } from "@switchboard/schema";
import { jsonHeaders, postForEvents, postJson, wireEndpoint, type WireEndpoint, type WireReply } from "./upstream-http.ts";
import { createToolCallIndexer } from "./tool-call-index.ts";
import { parseJson, tooManyRequests, truncate } from "./upstream-reply.ts";
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

type Json = Record<string, unknown>;

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

/** Messages (and their content parts) or tools without the `cache_control` the gateway added to them (ProviderRequest.cacheMarks). */
function withoutCacheMarks(items: unknown[]): unknown[] {
  return items.map((item) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const { cache_control: _marker, ...rest } = item as Json;
    return Array.isArray(rest["content"]) ? { ...rest, content: withoutCacheMarks(rest["content"] as unknown[]) } : rest;
  });
}

export function createOpenAICompatibleProvider(config: OpenAICompatibleConfig): ChatProvider {
  const headers = requestHeaders(config);
  const endpoints = new Map<string, WireEndpoint>();
  /** The endpoint of `path` for `model`, prepared once (Azure names the model in the URL). */
  function endpoint(path: "/chat/completions" | "/embeddings", model: string): WireEndpoint {
    const key = config.azure ? `${path} ${model}` : path;
    let found = endpoints.get(key);
    if (!found) {
      found = wireEndpoint(urlOf(config, path, model), headers);
      endpoints.set(key, found);
    }
    return found;
  }

  function params(request: ProviderRequest): Json {
    const format = request.responseFormat;
    const passthrough = request.passthrough ?? {};
    let messages = (passthrough["messages"] as unknown[] | undefined) ?? request.messages;
    let responseFormat: Json | undefined;
    if (format && config.structuredOutput === "json_object") {
      const instruction = `Reply with one JSON object matching this JSON schema, and nothing else:\n${JSON.stringify(format.schema)}`;
      messages = [{ role: "system", content: instruction }, ...messages];
      responseFormat = { type: "json_object" };
    } else if (format) {
      responseFormat = { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: true } };
    }
    const marked = request.cacheMarks === true;
    // The caller's fields go first and unchanged; only what the gateway decides (the model
    // it routed to, the typed knobs of its own callers, caching markers it added) is set
    // over them.
    return {
      ...passthrough,
      model: request.model ?? config.model,
      messages: marked ? withoutCacheMarks(messages) : messages,
      ...(marked && Array.isArray(passthrough["tools"]) ? { tools: withoutCacheMarks(passthrough["tools"]) } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
      ...(responseFormat ? { response_format: responseFormat } : {}),
    };
  }

  async function complete(request: ProviderRequest): Promise<ProviderCompletion> {
    const body = params(request);
    const reply = await postJson(endpoint("/chat/completions", body.model as string), JSON.stringify({ ...body, stream: false }), request.signal);
    // A proxy answering 200 with HTML or a truncated body must not pass for an answer.
    const completion = answerOf(reply) as { choices?: unknown; system_fingerprint?: string | null; model?: string; usage?: unknown } | null;
    const choices = typeof completion === "object" && completion !== null && Array.isArray(completion.choices) ? (completion.choices as AnswerChoice[]).map(withoutGatewayFields) : undefined;
    const first = choices?.[0];
    if (!choices || !first || typeof first.message !== "object" || first.message === null) {
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
      systemFingerprint: completion!.system_fingerprint,
      extras: vendorFields(completion!),
      model: completion!.model ?? request.model ?? config.model,
      usage: usageOf(completion!.usage),
    };
  }

  async function* stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    const passthrough = request.passthrough ?? {};
    // Usage is always asked for: metrics and spend need it. The caller's own wish decides
    // whether the usage chunk reaches it (see the OpenAI transport).
    const streamOptions = { ...(passthrough["stream_options"] as object | undefined), include_usage: true };
    const body = params(request);
    const reply = await postForEvents(
      endpoint("/chat/completions", body.model as string),
      JSON.stringify({ ...body, stream: true, stream_options: streamOptions }),
      request.signal,
    );
    if ("body" in reply) throw statusError(reply);
    let finished = false;
    let done = false;
    /** Choices that have sent something but no finish reason yet. */
    const unfinished = new Set<number>();
    const indexToolCalls = createToolCallIndexer();
    for await (const batch of reply.events) {
      for (const { data } of batch) {
        // As OpenAI's own client does, what follows [DONE] is read (the connection stays
        // reusable) and ignored.
        if (done) break;
        if (data.startsWith("[DONE]")) {
          done = true;
          // [DONE] is the server's word that the answer is whole, even from one that names no
          // finish reason (some local and hosted servers): every choice still open stopped, as
          // OpenAI's would say — with n > 1 one choice may have named its reason and another not.
          for (const index of unfinished) yield { type: "choice", choice: { index, delta: {}, finish_reason: "stop" } };
          if (unfinished.size > 0) finished = true;
          unfinished.clear();
          break;
        }
        const chunk = parseJson(data) as { choices?: unknown; error?: unknown; system_fingerprint?: string | null; usage?: unknown } | null;
        if (typeof chunk === "object" && chunk !== null && chunk.error) throw errorEvent(chunk.error);
        if (typeof chunk !== "object" || chunk === null || !Array.isArray(chunk.choices)) {
          throw new ProviderError("malformed", "upstream sent a stream chunk that is not a chat completion chunk");
        }
        const extras = vendorFields(chunk);
        for (const choice of chunk.choices as ChoiceChunk[]) {
          if (typeof choice !== "object" || choice === null || typeof choice.delta !== "object" || choice.delta === null) {
            throw new ProviderError("malformed", "upstream sent a choice without a delta");
          }
          if (choice.finish_reason) {
            finished = true;
            unfinished.delete(choice.index);
          } else unfinished.add(choice.index);
          indexToolCalls(choice);
          yield { type: "choice", choice: withoutGatewayFields(choice), systemFingerprint: chunk.system_fingerprint, extras };
        }
        const usage = usageOf(chunk.usage);
        if (usage) yield { type: "usage", usage };
      }
    }
    // Some servers close without [DONE] and without a finish reason: that is not a finished answer.
    if (request.signal.aborted) throw new ProviderError("aborted", "request aborted");
    if (!finished) throw new ProviderError("connection_error", "upstream closed the stream before the answer finished");
  }

  async function embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const reply = await postJson(endpoint("/embeddings", request.model), JSON.stringify({ ...request.body, model: request.model }), request.signal);
    const body = answerOf(reply) as { data?: unknown; model?: string; usage?: { prompt_tokens?: unknown; total_tokens?: unknown } } | null;
    if (typeof body !== "object" || body === null || !Array.isArray(body.data)) {
      throw new ProviderError("malformed", "upstream answered without embeddings");
    }
    const usage = body.usage;
    return {
      data: body.data,
      model: body.model ?? request.model,
      usage:
        usage && typeof usage.prompt_tokens === "number"
          ? { promptTokens: usage.prompt_tokens, totalTokens: typeof usage.total_tokens === "number" ? usage.total_tokens : usage.prompt_tokens }
          : undefined,
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

/** The key goes as Azure's `api-key` or as a bearer token. No key, no credential header: self-hosted servers often need none. */
export function openAICredential(apiKey: string | undefined, azure: boolean): Record<string, string> {
  if (!apiKey) return {};
  return azure ? { "api-key": apiKey } : { authorization: `Bearer ${apiKey}` };
}

function requestHeaders(config: OpenAICompatibleConfig): Record<string, string> {
  return jsonHeaders(openAICredential(config.apiKey, Boolean(config.azure)), config.headers);
}

/**
 * The URL of an API path. Azure OpenAI names the deployment (the model) in the path and
 * the API version in the query, under the resource's /openai; an endpoint that already
 * names a deployment is used as it is.
 */
function urlOf(config: OpenAICompatibleConfig, path: string, model: string): string {
  const base = config.baseUrl.replace(/\/+$/, "");
  if (!config.azure) return `${base}${path}`;
  const root = `${base}/openai`;
  const deployment = root.includes("/deployments") ? "" : `/deployments/${encodeURIComponent(model)}`;
  return `${root}${deployment}${path}?api-version=${encodeURIComponent(config.azure.apiVersion)}`;
}

/** A 2xx answer's JSON; any other status as the ProviderError it stands for. */
function answerOf(reply: WireReply): unknown {
  if (reply.status >= 200 && reply.status < 300) return parseJson(reply.body);
  throw statusError(reply);
}

/**
 * A non-2xx answer: 429 is a rate limit (with how long it asked us to wait) unless it says the
 * account's quota is gone; anything else an http_error carrying the body's OpenAI-shaped
 * `error` object, so that a refusal of the caller's request can be passed on as sent.
 */
export function statusError(reply: WireReply): ProviderError {
  const { status } = reply;
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply.body);
  } catch {
    parsed = undefined;
  }
  const error = typeof parsed === "object" && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  const upstream = upstreamErrorOf(error);
  if (status === 429) return tooManyRequests(reply, upstream);
  const detail = upstream ? (upstream.message as string) : error !== undefined ? JSON.stringify(error) : reply.body.trim() || "no body";
  return new ProviderError("http_error", `upstream answered ${status}: ${truncate(detail)}`, { status, ...(upstream ? { upstream } : {}) });
}

/** `data: {"error": …}` inside a stream: the upstream gave up after answering 200. */
function errorEvent(error: unknown): ProviderError {
  const upstream = upstreamErrorOf(error);
  const detail = upstream ? (upstream.message as string) : JSON.stringify(error);
  return new ProviderError("http_error", `upstream sent an error event: ${truncate(detail)}`, upstream ? { upstream } : {});
}

/**
 * Top-level fields of a completion or chunk that the gateway writes itself or reads, and
 * OpenAI's `obfuscation` (padding against length side channels on the upstream's connection,
 * which means nothing on the client's).
 */
/**
 * A choice without the fields the gateway itself puts on choices: `anthropic_stop` is the
 * Anthropic provider's word on why its answer stopped, which /v1/messages answers with as its
 * stop_reason. An OpenAI-protocol upstream naming it (a proxy, another gateway, a server
 * told what to say) is not believed: its answer stops for its finish_reason alone.
 */
function withoutGatewayFields<T>(choice: T): T {
  if (typeof choice !== "object" || choice === null || !("anthropic_stop" in choice)) return choice;
  const { anthropic_stop: _ignored, ...rest } = choice as T & { anthropic_stop: unknown };
  return rest as T;
}

const OWN_FIELDS = new Set(["id", "object", "created", "model", "choices", "usage", "system_fingerprint", "error", "obfuscation"]);

/**
 * A vendor's other top-level fields (OpenAI's service_tier, Perplexity's citations and
 * search_results, OpenRouter's provider…), passed on to the client; undefined when none.
 */
function vendorFields(body: object): Record<string, unknown> | undefined {
  let extras: Record<string, unknown> | undefined;
  for (const key in body) {
    if (!OWN_FIELDS.has(key)) (extras ??= {})[key] = (body as Record<string, unknown>)[key];
  }
  return extras;
}

function upstreamErrorOf(error: unknown): UpstreamError | undefined {
  return typeof error === "object" && error !== null && typeof (error as UpstreamError).message === "string" ? (error as UpstreamError) : undefined;
}

/** Usage with its detail objects kept; undefined when absent or not numeric. */
function usageOf(usage: unknown): ProviderUsage | undefined {
  if (typeof usage !== "object" || usage === null) return undefined;
  const { prompt_tokens, completion_tokens, total_tokens: _total, ...details } = usage as Record<string, unknown>;
  if (typeof prompt_tokens !== "number" || typeof completion_tokens !== "number") return undefined;
  return { promptTokens: prompt_tokens, completionTokens: completion_tokens, ...(Object.keys(details).length > 0 ? { details } : {}) };
}
