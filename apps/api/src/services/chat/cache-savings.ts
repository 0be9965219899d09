/**
 * What a response-cache hit saved: its answer's usage at the prices its call would have been
 * billed at, had a provider answered (the provider chain's own rule, `registry.billedAs`). An
 * estimate: a provider asked again may answer at another length.
 */
import { cachedTokensOf } from "../gateway/answer-output.ts";
import type { ChainResult } from "../gateway/chain-types.ts";
import type { ProviderRegistry } from "../gateway/registry.ts";
import { costUsd } from "../gateway/pricing.ts";

export function savedByHit(registry: ProviderRegistry, kept: ChainResult, request: { model?: string | undefined; pinned?: string | undefined }): number {
  const pricedAs = registry.billedAs(request.pinned ? undefined : registry.servingRoute(request.model), kept.provider, kept.model);
  return costUsd(pricedAs === undefined ? null : registry.priceOf(pricedAs), { prompt: kept.usage.promptTokens, completion: kept.usage.completionTokens, cached: cachedTokensOf(kept.usageDetails) ?? 0 });
}
