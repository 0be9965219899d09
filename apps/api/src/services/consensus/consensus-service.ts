/**
 * The consensus service: the same guards as chat (per-user rate limit through the
 * coordination port, emergency stop, frozen providers left out), then one run (run.ts)
 * that consensus.query waits for and consensus.stream relays event by event. Transports
 * (the tRPC router) only translate its answers and AppErrors.
 */
import type { Logger } from "pino";
import {
  CONSENSUS_STRATEGIES,
  type TConsensusHistoryInput,
  type TConsensusModels,
  type TConsensusQueryInput,
  type TConsensusResult,
  type TConsensusStreamEvent,
  type TProviderId,
} from "@switchboard/schema";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { ProviderRegistry } from "../gateway/registry.ts";
import { linkedController } from "../gateway/call-outcome.ts";
import type { CircuitBreaker } from "../gateway/circuit-breaker.ts";
import type { ProviderChain } from "../gateway/provider-chain.ts";
import type { CallerContext } from "../gateway/chain-types.ts";
import { isDatabaseUnavailable } from "../../infra/database-errors.ts";
import { AppError, databaseUnavailable } from "../errors.ts";
import type { ConsensusStore, Viewer } from "./consensus-store.ts";
import { defaultProviders, planRun, type RunPlan } from "./plan.ts";
import { executeRun } from "./run.ts";

export interface ConsensusServiceDeps {
  chain: ProviderChain;
  registry: ProviderRegistry;
  breaker: CircuitBreaker;
  store: ConsensusStore;
  coordination: Coordination;
  log: Logger;
  settings: {
    ratePerMin: number;
    defaultTimeoutMs: number;
    aggregator: TProviderId | undefined;
  };
  /** The EMERGENCY_STOP refusal of a freeze taking `id` out of fan-outs right now, or null. */
  frozenRefusal?: (id: TProviderId) => AppError | null;
  /** Aborts (reason: the EMERGENCY_STOP AppError) when a freeze stopping consensus lands. */
  stopSignal?: () => { signal: AbortSignal; dispose(): void };
}

export function createConsensusService(deps: ConsensusServiceDeps) {
  const frozenRefusal = deps.frozenRefusal ?? (() => null);
  const isFrozen = (id: TProviderId) => frozenRefusal(id) !== null;

  /** Refuses what cannot be served before it costs a rate-limit point, then takes one. */
  async function admit(user: Viewer, input: TConsensusQueryInput): Promise<RunPlan> {
    const plan = planRun(input, {
      registry: deps.registry,
      frozenRefusal,
      defaultTimeoutMs: deps.settings.defaultTimeoutMs,
      defaultAggregator: deps.settings.aggregator,
    });
    const limit = await deps.coordination.consumeLeased(`consensus:rate:${user.id}`, deps.settings.ratePerMin, 60_000);
    if (!limit.allowed) {
      throw new AppError("TOO_MANY_REQUESTS", `Consensus rate limit reached (${deps.settings.ratePerMin} runs per minute)`, {
        retryAfterSec: Math.max(1, Math.ceil(limit.retryAfterMs / 1000)),
      });
    }
    return plan;
  }

  /** One signal for the run: the caller leaving or a freeze stopping consensus. */
  function runSignal(signal: AbortSignal | undefined) {
    const stop = deps.stopSignal?.();
    const linked = linkedController(signal, stop?.signal);
    return {
      signal: linked.controller.signal,
      close: () => {
        // Calls still running (the consumer left early) stop here.
        linked.controller.abort(new Error("consensus run closed"));
        linked.unlink();
        stop?.dispose();
      },
    };
  }

  async function query(user: Viewer, input: TConsensusQueryInput, caller: CallerContext = {}): Promise<TConsensusResult> {
    const plan = await admit(user, input);
    const run = runSignal(caller.signal);
    try {
      for await (const event of executeRun(deps, plan, user.id, run.signal, caller.scope)) {
        if (event.type === "complete") return event.run;
        if (event.type === "failed") throw event.error;
      }
      throw new Error("consensus run ended without a result");
    } finally {
      run.close();
    }
  }

  /** Admission errors are thrown (the client gets a status); once started, everything is an event. */
  async function* stream(user: Viewer, input: TConsensusQueryInput, caller: CallerContext = {}): AsyncGenerator<TConsensusStreamEvent> {
    const plan = await admit(user, input);
    const run = runSignal(caller.signal);
    try {
      yield {
        type: "consensus_start",
        id: plan.id,
        strategy: plan.strategy,
        quorum: plan.quorum,
        timeoutMs: plan.timeoutMs,
        providers: plan.providers.map((p) => ({ provider: p.id, model: p.model })),
        excluded: plan.excluded,
      };
      for await (const event of executeRun(deps, plan, user.id, run.signal, caller.scope)) {
        if (event.type === "answer") yield { type: "consensus_answer", answer: event.answer };
        else if (event.type === "synthesizing") yield { type: "consensus_synthesizing", provider: event.provider, model: event.model };
        else if (event.type === "complete") yield { type: "consensus_complete", result: event.run };
        else {
          const code = event.error.details["reason"] === "QUORUM_NOT_MET" ? "QUORUM_NOT_MET" : event.error.code === "EMERGENCY_STOP" ? "EMERGENCY_STOP" : "ABORTED";
          const { message, retryAfterSec } = event.error;
          yield { type: "error", code, message, ...(retryAfterSec ? { retryAfterSec } : {}), id: plan.id, answers: event.run.answers };
        }
      }
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        const { message, retryAfterSec } = databaseUnavailable(error);
        yield { type: "error", code: "SERVICE_UNAVAILABLE", message, ...(retryAfterSec ? { retryAfterSec } : {}), id: plan.id };
        return;
      }
      deps.log.error({ err: error, runId: plan.id }, "consensus stream failed");
      yield { type: "error", code: "INTERNAL", message: "Internal error", id: plan.id };
    } finally {
      run.close();
    }
  }

  function models(): TConsensusModels {
    const byDefault = defaultProviders(deps.registry);
    return {
      models: deps.registry.all().map((p) => ({
        provider: p.id,
        model: p.model,
        kind: p.kind,
        active: deps.registry.isActive(p.id),
        byDefault: byDefault.includes(p.id),
        frozen: isFrozen(p.id),
        circuit: deps.breaker.snapshot(p.id).state,
      })),
      strategies: [...CONSENSUS_STRATEGIES],
      defaults: {
        providers: byDefault,
        timeoutMs: deps.settings.defaultTimeoutMs,
        aggregator: deps.settings.aggregator ?? null,
      },
    };
  }

  return {
    query,
    stream,
    models,
    history: (viewer: Viewer, input: TConsensusHistoryInput) => deps.store.history(viewer, input),
    get: (viewer: Viewer, id: string) => deps.store.get(viewer, id),
  };
}

export type ConsensusService = ReturnType<typeof createConsensusService>;
