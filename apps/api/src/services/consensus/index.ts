/**
 * Builds the consensus feature on top of the chat gateway's provider layer: it shares the
 * chain (so breaker, cooldowns, freeze skips and call records are the same as chat's) and
 * adds the run store and the service.
 */
import type { Logger } from "pino";
import type { TProviderId } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { AppError } from "../errors.ts";
import type { ProviderRegistry } from "../gateway/registry.ts";
import type { CircuitBreaker } from "../gateway/circuit-breaker.ts";
import type { ProviderChain } from "../gateway/provider-chain.ts";
import { createConsensusService } from "./consensus-service.ts";
import { createConsensusStore } from "./consensus-store.ts";

export interface ConsensusEmergency {
  /** The EMERGENCY_STOP refusal of a freeze taking `id` out of fan-outs right now, or null. */
  frozenRefusal(id: TProviderId): AppError | null;
  stopSignal(): { signal: AbortSignal; dispose(): void };
}

type ConsensusEnv = Pick<Env, "CONSENSUS_RATE_LIMIT_PER_MIN" | "CONSENSUS_TIMEOUT_MS" | "CONSENSUS_AGGREGATOR">;

/**
 * What is wrong with the consensus settings, or null. Checked before anything is opened: a
 * misconfigured aggregator would otherwise fail every synthesize request.
 */
export function consensusConfigProblem(env: ConsensusEnv, registry: ProviderRegistry): string | null {
  const id = env.CONSENSUS_AGGREGATOR;
  if (id === undefined || (registry.isActive(id) && registry.get(id)?.kind !== "template")) return null;
  const active = registry.chain().filter((p) => p.kind !== "template").map((p) => p.id);
  return `CONSENSUS_AGGREGATOR=${id} must be an active provider other than the template (active: ${active.join(", ") || "none"})`;
}

export function createConsensus(opts: {
  env: ConsensusEnv;
  prisma: PrismaClient;
  chain: ProviderChain;
  registry: ProviderRegistry;
  breaker: CircuitBreaker;
  coordination: Coordination;
  log: Logger;
  emergency?: ConsensusEmergency;
}) {
  const { env, registry } = opts;
  return createConsensusService({
    chain: opts.chain,
    registry,
    breaker: opts.breaker,
    store: createConsensusStore(opts.prisma),
    coordination: opts.coordination,
    log: opts.log,
    settings: { ratePerMin: env.CONSENSUS_RATE_LIMIT_PER_MIN, defaultTimeoutMs: env.CONSENSUS_TIMEOUT_MS, aggregator: env.CONSENSUS_AGGREGATOR },
    ...(opts.emergency ? { frozenRefusal: opts.emergency.frozenRefusal, stopSignal: opts.emergency.stopSignal } : {}),
  });
}
