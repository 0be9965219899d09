/**
 * The gateway core: provider registry (live configuration), circuit breaker, fallback
 * chain, health probe and the configuration service, built once by the composition root
 * and shared by every feature that calls a model (chat, consensus, the OpenAI surface) and
 * by metrics, which observe its calls.
 */
import type { Logger } from "pino";
import type { TProviderId } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { SecretBox } from "../../infra/secrets.ts";
import { createCircuitBreaker, type CircuitBreaker } from "./circuit-breaker.ts";
import { createConfigService, warnUnreadable, type ConfigService } from "./config-service.ts";
import { createConfigStore } from "./config-store.ts";
import type { ModelPrice } from "./config-types.ts";
import { createHealthProbe } from "./health-probe.ts";
import { createProviderChain, type ProviderChain } from "./provider-chain.ts";
import { createLiveRegistry, type ProviderRegistry } from "./registry.ts";
import type { SeedEnv } from "./env-seed.ts";

export interface GatewayEmergency {
  isProviderFrozen(id: TProviderId): boolean;
  onProviderStop(id: TProviderId, abort: (reason: unknown) => void): () => void;
}

export interface Gateway {
  registry: ProviderRegistry;
  breaker: CircuitBreaker;
  chain: ProviderChain;
}

type ChainEnv = Pick<Env, "CIRCUIT_FAILURE_THRESHOLD" | "CIRCUIT_COOLDOWN_MS" | "PROVIDER_TIMEOUT_MS" | "CHAT_STREAM_IDLE_TIMEOUT_MS">;

/** Breaker and chain over a registry (unit tests build one from the environment). */
export function createGateway(opts: { env: ChainEnv; registry: ProviderRegistry; emergency?: GatewayEmergency | undefined }): Gateway {
  const { env, registry } = opts;
  const breaker = createCircuitBreaker({ failureThreshold: env.CIRCUIT_FAILURE_THRESHOLD, cooldownMs: env.CIRCUIT_COOLDOWN_MS });
  const chain = createProviderChain({
    registry,
    breaker,
    timeoutMs: env.PROVIDER_TIMEOUT_MS,
    idleTimeoutMs: env.CHAT_STREAM_IDLE_TIMEOUT_MS,
    ...(opts.emergency ? { isProviderFrozen: opts.emergency.isProviderFrozen, onProviderStop: opts.emergency.onProviderStop } : {}),
  });
  return { registry, breaker, chain };
}

export interface LiveGateway extends Gateway {
  config: ConfigService;
  /** A model's price (USD per million tokens) for spend accounting; synchronous, no I/O. */
  priceOf(model: string): ModelPrice | null;
}

/**
 * The gateway on the database's configuration: seeds it from the environment on the very
 * first start, loads it, and keeps it live (see config-service.ts). Call `config.start()`
 * once coordination is up.
 */
export async function openGateway(opts: {
  env: ChainEnv & SeedEnv & Pick<Env, "TEMPLATE_STREAM_DELAY_MS" | "EMERGENCY_ACK_WAIT_MS">;
  prisma: PrismaClient;
  box: SecretBox;
  coordination: Coordination;
  instanceId: string;
  log: Logger;
  emergency?: GatewayEmergency;
  healthIntervalMs?: number;
  /** How often the version row is checked for a change whose push was lost (CONFIG_RECHECK_MS). */
  recheckMs?: number;
}): Promise<LiveGateway> {
  const store = createConfigStore(opts.prisma, opts.box);
  if (await store.seedIfEmpty(opts.env)) opts.log.info("seeded providers and the auto route from the environment");
  const loaded = await store.load();
  warnUnreadable(opts.log, loaded);
  const registry = createLiveRegistry(loaded, { templateStreamDelayMs: opts.env.TEMPLATE_STREAM_DELAY_MS });
  const gateway = createGateway({ env: opts.env, registry, emergency: opts.emergency });
  const health = createHealthProbe({ providers: () => registry.snapshot().providers, ...(opts.healthIntervalMs ? { intervalMs: opts.healthIntervalMs } : {}) });
  const config = createConfigService({
    store,
    registry,
    breaker: gateway.breaker,
    health,
    coordination: opts.coordination,
    instanceId: opts.instanceId,
    ackWaitMs: opts.env.EMERGENCY_ACK_WAIT_MS,
    log: opts.log,
    ...(opts.recheckMs ? { recheckMs: opts.recheckMs } : {}),
  });
  return { ...gateway, config, priceOf: registry.priceOf };
}
