import type { TConsensusStrategy } from "@switchboard/schema";

/** One line per strategy for the picker; docs/consensus.md has the long form. */
export const STRATEGY_INFO: Record<TConsensusStrategy, { label: string; hint: string; agreement: string }> = {
  majority: {
    label: "Majority vote",
    hint: "Short answers (numbers, names, yes/no): normalised answers vote, the largest group wins.",
    agreement: "share of answers in the winning group",
  },
  medoid: {
    label: "Medoid",
    hint: "Free text: the answer most similar to all the others wins.",
    agreement: "mean similarity between the answers",
  },
  synthesize: {
    label: "Synthesize",
    hint: "An aggregator model merges the answers into one (Mixture-of-Agents); medoid if it fails.",
    agreement: "mean similarity between the answers",
  },
};
