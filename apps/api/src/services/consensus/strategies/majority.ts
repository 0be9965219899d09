/**
 * Majority (plurality) vote over normalised answers: self-consistency voting (Wang et al.
 * 2022). Answers that normalise to the same text are one vote group; the biggest group wins.
 * Ties go to the group holding the earliest answer in the order the providers were asked,
 * so the result never depends on which answer happened to arrive first.
 *
 * agreement = size of the winning group / number of answers.
 */
import { normalizeAnswer } from "./normalize.ts";
import type { Candidate, Decision } from "./types.ts";

export interface VoteGroup<P extends string> {
  key: string;
  members: Candidate<P>[];
}

/** Vote groups, biggest first; equal sizes in order of their first member. */
export function voteGroups<P extends string>(candidates: readonly Candidate<P>[]): VoteGroup<P>[] {
  const groups = new Map<string, VoteGroup<P>>();
  for (const candidate of candidates) {
    const key = normalizeAnswer(candidate.content);
    const group = groups.get(key) ?? { key, members: [] };
    group.members.push(candidate);
    groups.set(key, group);
  }
  // Map iteration follows first insertion, and Array.prototype.sort is stable.
  return [...groups.values()].sort((a, b) => b.members.length - a.members.length);
}

export function majority<P extends string>(candidates: readonly Candidate<P>[]): Decision<P> {
  const [winner] = voteGroups(candidates);
  if (!winner) throw new Error("majority needs at least one answer");
  return {
    // The first backer's own wording, not the normalised key: "1,000" stays "1,000".
    content: winner.members[0]!.content.trim(),
    providers: winner.members.map((m) => m.provider),
    agreement: winner.members.length / candidates.length,
  };
}
