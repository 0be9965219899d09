/** OpenAI's embeddings request → the chat service's embed call, and its answer back. */
import { formatCount, OPENAI_MAX_REQUEST_CHARS, ZOpenAIEmbeddingRequest } from "@switchboard/schema";
import type { EmbedChainRequest, EmbedChainResult } from "../../services/gateway/chain-types.ts";
import { resolveEmbeddingModel } from "../../services/chat/models.ts";
import type { ProviderRegistry } from "../../services/gateway/registry.ts";
import { AppError } from "../../services/errors.ts";
import { appErrorOfZod } from "../error-map.ts";

export function parseEmbeddingRequest(body: unknown, registry: ProviderRegistry): Omit<EmbedChainRequest, "signal"> {
  const parsed = ZOpenAIEmbeddingRequest.safeParse(body);
  if (!parsed.success) throw appErrorOfZod(parsed.error);
  const input = parsed.data.input;
  const chars = typeof input === "string" ? input.length : input.reduce<number>((n, x) => n + (typeof x === "string" ? x.length : Array.isArray(x) ? x.length : 1), 0);
  if (chars > OPENAI_MAX_REQUEST_CHARS) {
    throw new AppError("PAYLOAD_TOO_LARGE", `input is too long: ${formatCount(chars)} characters or tokens (limit ${formatCount(OPENAI_MAX_REQUEST_CHARS)})`, { details: { param: "input" } });
  }
  const { pinned, model } = resolveEmbeddingModel(registry, parsed.data.model);
  const { model: _model, ...rest } = body as Record<string, unknown>;
  return { model, pinned, body: rest };
}

export function embeddingBody(result: EmbedChainResult) {
  return {
    object: "list",
    data: result.data,
    model: result.model,
    usage: { prompt_tokens: result.usage?.promptTokens ?? 0, total_tokens: result.usage?.totalTokens ?? 0 },
  };
}
