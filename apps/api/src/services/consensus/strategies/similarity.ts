/**
 * Similarity of two free-text answers: cosine similarity of their bag of word unigrams and
 * bigrams, after the same normalisation as the vote (normalize.ts). 1 = the same words in
 * the same order, 0 = no word in common. Bigrams reward shared phrasing, so "not safe" and
 * "safe" are less alike than the single word "safe" would make them. Cheap (no model, no
 * network) and deterministic; it measures overlap in wording, not in meaning.
 */
import { tokensOf } from "./normalize.ts";

export type TermVector = Map<string, number>;

export function termVector(text: string): TermVector {
  const tokens = tokensOf(text);
  const vector: TermVector = new Map();
  const add = (term: string) => vector.set(term, (vector.get(term) ?? 0) + 1);
  tokens.forEach((token, i) => {
    add(token);
    if (i > 0) add(`${tokens[i - 1]} ${token}`);
  });
  return vector;
}

export function cosine(a: TermVector, b: TermVector): number {
  if (a.size === 0 || b.size === 0) return a.size === 0 && b.size === 0 ? 1 : 0;
  let dot = 0;
  for (const [term, count] of a) dot += count * (b.get(term) ?? 0);
  const squaredNorm = (v: TermVector) => [...v.values()].reduce((sum, c) => sum + c * c, 0);
  // One square root of the product, not the product of two roots: the counts are whole
  // numbers, so for the same vector twice that is the root of a perfect square, exact, and
  // identical answers score exactly 1 (√5·√5 is 5.000000000000001, which made it 0.9999999999999998).
  // Cauchy-Schwarz keeps any other pair at or below 1; the bound guards the last bit of rounding.
  return Math.min(1, dot / Math.sqrt(squaredNorm(a) * squaredNorm(b)));
}

export function similarity(a: string, b: string): number {
  return cosine(termVector(a), termVector(b));
}
