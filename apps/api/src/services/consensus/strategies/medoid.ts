/**
 * The medoid: the answer with the highest mean similarity to the other answers, i.e. the
 * one that best represents the set (similarity.ts). Ties go to the earliest provider in the
 * order asked. The backers are the providers whose answer normalises to the medoid's text.
 *
 * agreement = mean similarity over all pairs of answers (1 with a single answer).
 */
import { normalizeAnswer } from "./normalize.ts";
import { cosine, termVector } from "./similarity.ts";
import type { Candidate, Decision } from "./types.ts";

/** Pairwise similarity matrix of the answers (symmetric, 1 on the diagonal). */
export function similarityMatrix(candidates: readonly Candidate[]): number[][] {
  const vectors = candidates.map((c) => termVector(c.content));
  return vectors.map((a, i) => vectors.map((b, j) => (i === j ? 1 : cosine(a, b))));
}

/** Mean similarity over all pairs; 1 for fewer than two answers (nothing disagrees). */
export function meanPairwiseSimilarity(matrix: readonly number[][]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < matrix.length; i++) {
    for (let j = i + 1; j < matrix.length; j++) {
      sum += matrix[i]![j]!;
      pairs++;
    }
  }
  return pairs === 0 ? 1 : sum / pairs;
}

export function medoid<P extends string>(candidates: readonly Candidate<P>[]): Decision<P> {
  if (candidates.length === 0) throw new Error("medoid needs at least one answer");
  const matrix = similarityMatrix(candidates);
  const n = candidates.length;
  let best = 0;
  let bestScore = -1;
  matrix.forEach((row, i) => {
    const score = n === 1 ? 1 : (row.reduce((s, v) => s + v, 0) - 1) / (n - 1);
    // Strictly greater: an equal score later in the order does not displace an earlier one.
    if (score > bestScore + 1e-12) [best, bestScore] = [i, score];
  });
  const winner = candidates[best]!;
  const key = normalizeAnswer(winner.content);
  return {
    content: winner.content.trim(),
    providers: [winner.provider, ...candidates.filter((c, i) => i !== best && normalizeAnswer(c.content) === key).map((c) => c.provider)],
    agreement: meanPairwiseSimilarity(matrix),
  };
}
