/**
 * Translation between OpenAI's chat-completions wire format and the chat service: model
 * names to provider choices, messages to ours, results to OpenAI's response objects.
 */
import { randomUUID } from "node:crypto";
import { OPENAI_MAX_REQUEST_CHARS, PROVIDER_IDS, type TOpenAIChatRequest, type TProviderId } from "@switchboard/schema";
import type { ProviderRegistry } from "../gateway/registry.ts";
import type { ChatMessage } from "../../providers/types.ts";
import { AppError } from "../errors.ts";
import type { ChainResult } from "../gateway/chain-types.ts";
import type { StatelessRequest } from "./chat-service.ts";

/** Model names that mean "the whole fallback chain". */
export const AUTO_MODELS = ["auto", "switchboard"] as const;

const isProviderId = (v: string): v is TProviderId => (PROVIDER_IDS as readonly string[]).includes(v);

/**
 * `auto` → the chain; `deepseek` → pinned; `deepseek/deepseek-reasoner` → pinned with that
 * model; a provider's configured model name (e.g. `gpt-4o-mini`) → pinned to that provider,
 * so clients with a hard-coded model keep working.
 */
export function resolveModel(registry: ProviderRegistry, model: string): { pinned?: TProviderId; model?: string } {
  if ((AUTO_MODELS as readonly string[]).includes(model)) return {};
  if (isProviderId(model)) return { pinned: model };
  const slash = model.indexOf("/");
  if (slash > 0) {
    const prefix = model.slice(0, slash);
    if (isProviderId(prefix)) return { pinned: prefix, model: model.slice(slash + 1) };
  }
  const owner = registry.chain().find((p) => p.model === model);
  if (owner) return { pinned: owner.id };
  throw new AppError("NOT_FOUND", `The model '${model}' does not exist; GET /v1/models lists the available ones`, {
    details: { openaiCode: "model_not_found" },
  });
}

export function toStatelessRequest(registry: ProviderRegistry, body: TOpenAIChatRequest): StatelessRequest {
  const messages: ChatMessage[] = body.messages.map((m) => {
    if (m.role === "tool") throw new AppError("BAD_REQUEST", "Tool messages are not supported by Switchboard");
    const content = typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join("");
    return { role: m.role === "developer" ? "system" : m.role, content };
  });
  const chars = messages.reduce((n, m) => n + m.content.length, 0);
  if (chars > OPENAI_MAX_REQUEST_CHARS) {
    throw new AppError("PAYLOAD_TOO_LARGE", `Messages are too long: ${chars} characters (limit ${OPENAI_MAX_REQUEST_CHARS})`);
  }
  if (!messages.some((m) => m.role === "user" && m.content.trim() !== "")) {
    throw new AppError("BAD_REQUEST", "messages must contain a non-empty user message");
  }
  const { pinned, model } = resolveModel(registry, body.model);
  return {
    messages,
    pinned,
    model,
    temperature: body.temperature ?? undefined,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
  };
}

export function listModels(registry: ProviderRegistry, created: number) {
  const entry = (id: string, owner: string) => ({ id, object: "model" as const, created, owned_by: owner });
  return {
    object: "list" as const,
    data: [
      entry("auto", "switchboard"),
      ...registry.chain().flatMap((p) => [entry(p.id, p.id), entry(`${p.id}/${p.model}`, p.id)]),
    ],
  };
}

export function completionId(): string {
  return `chatcmpl-${randomUUID().replaceAll("-", "")}`;
}

const openAIUsage = (u: ChainResult["usage"]) => ({ prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.totalTokens });

export function completionBody(id: string, created: number, result: ChainResult) {
  return {
    id,
    object: "chat.completion",
    created,
    model: result.model,
    choices: [{ index: 0, message: { role: "assistant", content: result.content, refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: openAIUsage(result.usage),
    system_fingerprint: null,
  };
}

/** One `chat.completion.chunk`. */
export function chunkBody(
  id: string,
  created: number,
  model: string,
  delta: { role?: "assistant"; content?: string },
  finishReason: "stop" | null,
) {
  return { id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
}

export function usageChunkBody(id: string, created: number, model: string, usage: ChainResult["usage"]) {
  return { id, object: "chat.completion.chunk", created, model, choices: [], usage: openAIUsage(usage) };
}

/** The attempts as one header value: `beta:http_error,openai:success`. */
export function attemptsHeader(attempts: ChainResult["attempts"]): string {
  return attempts.map((a) => `${a.provider}:${a.outcome}`).join(",");
}
