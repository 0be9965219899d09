/**
 * The `synthesize` strategy: an aggregator model reads every answer and writes one
 * (Mixture-of-Agents). Whatever goes wrong with the aggregator (down, slow, frozen, no time
 * left, none available), the run still ends with a result: the medoid of the answers.
 * Agreement is the answers' mean pairwise similarity either way; the aggregator's prose
 * says nothing about how much the models agreed.
 */
import type { TConsensusAnswer, TConsensusStrategy, TProviderId } from "@switchboard/schema";
import type { ChatProvider } from "../../providers/types.ts";
import type { RequestScope } from "../../infra/request-scope.ts";
import type { ProviderChain } from "../gateway/provider-chain.ts";
import { askOne } from "./fan-out.ts";
import { medoid, synthesisMessages, type Candidate, type Decision } from "./strategies/index.ts";

export interface SynthesisOutcome {
  decision: Decision<TProviderId>;
  decidedBy: TConsensusStrategy;
  /** The aggregator call; null when none was made. */
  aggregator: TConsensusAnswer | null;
  fallbackReason: string | null;
}

/** Same text live and when a run is read back from the database (it is derived, not stored). */
export function fallbackReasonOf(aggregator: TConsensusAnswer | null): string | null {
  if (!aggregator) return "no aggregator available (configure CONSENSUS_AGGREGATOR or pass aggregator); fell back to medoid";
  if (aggregator.status === "success") return null;
  const detail = aggregator.error ? `: ${aggregator.error}` : "";
  return `aggregator ${aggregator.provider} failed (${aggregator.status}${detail}); fell back to medoid`;
}

export async function synthesize(
  chain: ProviderChain,
  opts: {
    prompt: string;
    candidates: readonly Candidate<TProviderId>[];
    aggregator: ChatProvider | null;
    /** What is left of the run's deadline. */
    timeoutMs: number;
    temperature?: number | undefined;
    maxTokens?: number | undefined;
    signal: AbortSignal;
    scope?: RequestScope | undefined;
  },
): Promise<SynthesisOutcome> {
  const fallback = medoid(opts.candidates);
  const { aggregator } = opts;
  let call: TConsensusAnswer | null = null;
  if (aggregator && opts.timeoutMs < 1) {
    call = { provider: aggregator.id, model: aggregator.model, content: null, latencyMs: 0, status: "timeout", usage: null, error: "no time left before the run's deadline" };
  } else if (aggregator) {
    call = await askOne(chain, aggregator, {
      messages: synthesisMessages(opts.prompt, opts.candidates.map((c) => c.content)),
      timeoutMs: opts.timeoutMs,
      temperature: opts.temperature,
      maxTokens: opts.maxTokens,
      signal: opts.signal,
      scope: opts.scope,
    });
  }
  if (call?.status === "success" && call.content !== null) {
    const decision = { content: call.content.trim(), providers: opts.candidates.map((c) => c.provider), agreement: fallback.agreement };
    return { decision, decidedBy: "synthesize", aggregator: call, fallbackReason: null };
  }
  return { decision: fallback, decidedBy: "medoid", aggregator: call, fallbackReason: fallbackReasonOf(call) };
}
