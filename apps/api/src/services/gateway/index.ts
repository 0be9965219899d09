/**
 * The gateway core: provider registry, circuit breaker and fallback chain, built once by
 * the composition root and shared by every feature that calls a model (chat, consensus,
 * the OpenAI surface) and by metrics, which observe its calls.
 */
import type { TProviderId } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import { createCircuitBreaker, type CircuitBreaker } from "./circuit-breaker.ts";
import { createProviderChain, type ProviderChain } from "./provider-chain.ts";
import { createProviderRegistry, type ProviderRegistry } from "./registry.ts";

export interface GatewayEmergency {
  isProviderFrozen(id: TProviderId): boolean;
  onProviderStop(id: TProviderId, abort: (reason: unknown) => void): () => void;
}

export interface Gateway {
  registry: ProviderRegistry;
  breaker: CircuitBreaker;
  chain: ProviderChain;
}

type GatewayEnv = Parameters<typeof createProviderRegistry>[0] &
  Pick<Env, "CIRCUIT_FAILURE_THRESHOLD" | "CIRCUIT_COOLDOWN_MS" | "PROVIDER_TIMEOUT_MS" | "CHAT_STREAM_IDLE_TIMEOUT_MS">;

export function createGateway(opts: { env: GatewayEnv; registry?: ProviderRegistry; emergency?: GatewayEmergency }): Gateway {
  const { env } = opts;
  const registry = opts.registry ?? createProviderRegistry(env);
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
