/** Prices of a model in USD per million tokens (from the model configuration). */
export interface ModelPrices {
  inputPerMTok: number;
  outputPerMTok: number;
  /** Price of prompt tokens served from the provider's cache; defaults to the input price. */
  cachedInputPerMTok?: number | null | undefined;
}

/** Model name (as clients send it, or as the provider reported it) → prices, when known. */
export type PriceLookup = (model: string) => ModelPrices | undefined;

export function costUsd(prices: ModelPrices | undefined, tokens: { prompt: number; completion: number; cached?: number }): number {
  if (!prices) return 0;
  const cached = Math.min(tokens.cached ?? 0, tokens.prompt);
  const cost =
    (tokens.prompt - cached) * prices.inputPerMTok +
    cached * (prices.cachedInputPerMTok ?? prices.inputPerMTok) +
    tokens.completion * prices.outputPerMTok;
  return cost / 1_000_000;
}
