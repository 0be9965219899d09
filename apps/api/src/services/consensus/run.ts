/**
 * One consensus run, as a stream of events that both consensus.query and consensus.stream
 * consume: each answer as it arrives, the aggregator starting (synthesize), then the
 * finished run, stored before it is announced. A run that cannot finish (quorum not met,
 * emergency stop, caller gone) is stored too, and ends with `failed` carrying the AppError.
 */
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { TConsensusAnswer, TConsensusResult, TConsensusRun, TProviderId } from "@switchboard/schema";
import type { ProviderChain } from "../gateway/provider-chain.ts";
import type { RequestScope } from "../../infra/request-scope.ts";
import { AppError } from "../errors.ts";
import type { ConsensusStore } from "./consensus-store.ts";
import { fanOut } from "./fan-out.ts";
import type { RunPlan } from "./plan.ts";
import { decide, type Candidate } from "./strategies/index.ts";
import { synthesize } from "./synthesize.ts";

export type RunEvent =
  | { type: "answer"; answer: TConsensusAnswer }
  | { type: "synthesizing"; provider: TProviderId; model: string }
  | { type: "complete"; run: TConsensusResult }
  | { type: "failed"; run: TConsensusRun; error: AppError };

export interface RunDeps {
  chain: ProviderChain;
  store: ConsensusStore;
  log: Logger;
}

const ms = (value: number) => Math.max(0, Math.round(value));

function quorumError(plan: RunPlan, answers: TConsensusAnswer[]): AppError {
  const failed = answers.filter((a) => a.status !== "success");
  const answered = answers.length - failed.length;
  const who = failed.map((a) => `${a.provider} (${a.status}${a.error ? `: ${a.error}` : ""})`).join("; ");
  return new AppError(
    "UPSTREAM_ERROR",
    `Quorum not met: ${answered} of ${answers.length} providers answered, ${plan.quorum} needed. Failed: ${who}`,
    {
      details: {
        reason: "QUORUM_NOT_MET",
        runId: plan.id,
        quorum: plan.quorum,
        answered,
        failed: failed.map((a) => ({ provider: a.provider, status: a.status, error: a.error ?? null })),
        answers,
      },
    },
  );
}

/**
 * @param signal aborts the run: the caller left, or an emergency stop covering consensus
 *   landed (its reason is then the EMERGENCY_STOP AppError, passed on as the failure).
 * @param scope the request the run serves, where its upstream calls are booked.
 */
export async function* executeRun(deps: RunDeps, plan: RunPlan, userId: string, signal: AbortSignal, scope?: RequestScope): AsyncGenerator<RunEvent> {
  const startedAt = new Date();
  const started = performance.now();
  const deadline = started + plan.timeoutMs;
  const arrived = new Map<TProviderId, TConsensusAnswer>();
  let stored = false;
  const base = (): Omit<TConsensusRun, "status" | "decidedBy" | "fallbackReason" | "aggregator" | "winner" | "agreement" | "latencyMs"> => ({
    id: plan.id,
    userId,
    prompt: plan.prompt,
    strategy: plan.strategy,
    quorum: plan.quorum,
    // Asked order; a provider the run gave up on before it answered is reported aborted.
    answers: plan.providers.map(
      (p) => arrived.get(p.id) ?? { provider: p.id, model: p.model, content: null, latencyMs: ms(performance.now() - started), status: "aborted", usage: null, error: "run ended before this provider answered" },
    ),
    excluded: plan.excluded,
    createdAt: startedAt.toISOString(),
  });
  const fail = async (error: AppError, status: "failed" | "aborted", aggregator: TConsensusAnswer | null = null): Promise<RunEvent> => {
    const run: TConsensusRun = { ...base(), status, decidedBy: null, fallbackReason: null, aggregator, winner: null, agreement: null, latencyMs: ms(performance.now() - started) };
    stored = true;
    await deps.store.save(run);
    return { type: "failed", run, error };
  };
  const abortError = () =>
    signal.reason instanceof AppError ? signal.reason : new AppError("SERVICE_UNAVAILABLE", "Consensus run aborted before it finished", { retryAfterSec: 1 });

  try {
    const messages = [{ role: "user" as const, content: plan.prompt }];
    for await (const answer of fanOut(deps.chain, { ...plan, messages, signal, scope })) {
      arrived.set(answer.provider, answer);
      yield { type: "answer", answer };
    }
    if (signal.aborted) {
      yield await fail(abortError(), "aborted");
      return;
    }
    const answers = base().answers;
    const candidates: Candidate<TProviderId>[] = answers.flatMap((a) => (a.status === "success" && a.content !== null ? [{ provider: a.provider, content: a.content }] : []));
    if (candidates.length < plan.quorum) {
      yield await fail(quorumError(plan, answers), "failed");
      return;
    }

    let outcome: { decision: { content: string; providers: TProviderId[]; agreement: number }; decidedBy: TConsensusResult["decidedBy"]; aggregator: TConsensusAnswer | null; fallbackReason: string | null };
    if (plan.strategy === "synthesize") {
      // Default aggregator: the first provider that just answered (so it is known to be up).
      const aggregator = plan.aggregator ?? plan.providers.find((p) => p.kind !== "template" && candidates.some((c) => c.provider === p.id)) ?? null;
      if (aggregator) yield { type: "synthesizing", provider: aggregator.id, model: aggregator.model };
      outcome = await synthesize(deps.chain, {
        prompt: plan.prompt,
        candidates,
        aggregator,
        timeoutMs: Math.floor(deadline - performance.now()),
        temperature: plan.temperature,
        maxTokens: plan.maxTokens,
        signal,
        scope,
      });
      if (signal.aborted) {
        yield await fail(abortError(), "aborted", outcome.aggregator);
        return;
      }
    } else {
      outcome = { decision: decide(plan.strategy, candidates), decidedBy: plan.strategy, aggregator: null, fallbackReason: null };
    }

    const run: TConsensusResult = {
      ...base(),
      status: "complete",
      decidedBy: outcome.decidedBy,
      fallbackReason: outcome.fallbackReason,
      aggregator: outcome.aggregator,
      winner: { content: outcome.decision.content, providers: outcome.decision.providers },
      agreement: outcome.decision.agreement,
      latencyMs: ms(performance.now() - started),
    };
    stored = true;
    await deps.store.save(run);
    yield { type: "complete", run };
  } finally {
    // The consumer stopped reading (client gone): keep the record of what was asked and seen.
    if (!stored) {
      const run: TConsensusRun = { ...base(), status: "aborted", decidedBy: null, fallbackReason: null, aggregator: null, winner: null, agreement: null, latencyMs: ms(performance.now() - started) };
      await deps.store.save(run).catch((err: unknown) => deps.log.error({ err, runId: plan.id }, "could not store an abandoned consensus run"));
    }
  }
}
