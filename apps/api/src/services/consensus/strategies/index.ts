/**
 * The pure part of consensus: from successful answers (in the order the providers were
 * asked) to a winner, its backers and an agreement score. No I/O, so every rule is unit-tested.
 * `synthesize` needs a model call and lives in ../synthesize.ts; its fallback is `medoid`.
 */
import { majority } from "./majority.ts";
import { medoid } from "./medoid.ts";
import type { Candidate, Decision } from "./types.ts";

export type LocalStrategy = "majority" | "medoid";

export function decide<P extends string>(strategy: LocalStrategy, candidates: readonly Candidate<P>[]): Decision<P> {
  return strategy === "majority" ? majority(candidates) : medoid(candidates);
}

export { majority, voteGroups } from "./majority.ts";
export { medoid, meanPairwiseSimilarity, similarityMatrix } from "./medoid.ts";
export { COMPARED_PREFIX_CHARS, canonicalNumber, comparedPrefix, normalizeAnswer, tokensOf } from "./normalize.ts";
export { similarity } from "./similarity.ts";
export { synthesisMessages, AGGREGATE_AND_SYNTHESIZE } from "./synthesis-prompt.ts";
export type { Candidate, Decision } from "./types.ts";
