/**
 * What a call cost at a route's prices: beside the prices themselves (ModelPrice), so the
 * request log that bills calls and the response cache that says what a hit saved price alike.
 */
import type { ModelPrice } from "./config-types.ts";

/** USD for these tokens at these prices (0 without prices); cached prompt tokens at the cached price, else the input price. */
export function costUsd(prices: ModelPrice | null | undefined, tokens: { prompt: number; completion: number; cached?: number }): number {
  if (!prices) return 0;
  const cached = Math.min(tokens.cached ?? 0, tokens.prompt);
  const cost =
    (tokens.prompt - cached) * prices.inputPerMTok +
    cached * (prices.cachedInputPerMTok ?? prices.inputPerMTok) +
    tokens.completion * prices.outputPerMTok;
  return cost / 1_000_000;
}
