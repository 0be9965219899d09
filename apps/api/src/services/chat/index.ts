/**
 * Builds the chat feature from configuration: provider registry, circuit breaker, fallback
 * chain, conversation store and the service that ties them together.
 */
import type { Logger } from "pino";
import type { TProviderId } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createProviderRegistry } from "../../providers/registry.ts";
import { createChatService, type ChatEmergencyHooks } from "./chat-service.ts";
import { createCircuitBreaker } from "./circuit-breaker.ts";
import { createConversationStore } from "./conversation-store.ts";
import { createProviderChain } from "./provider-chain.ts";

export interface ChatEmergency extends ChatEmergencyHooks {
  isProviderFrozen(id: TProviderId): boolean;
  onProviderStop(id: TProviderId, abort: (reason: unknown) => void): () => void;
}

export function createChat(opts: { env: Env; prisma: PrismaClient; coordination: Coordination; log: Logger; emergency?: ChatEmergency }) {
  const { env } = opts;
  const registry = createProviderRegistry(env);
  const breaker = createCircuitBreaker({ failureThreshold: env.CIRCUIT_FAILURE_THRESHOLD, cooldownMs: env.CIRCUIT_COOLDOWN_MS });
  const chain = createProviderChain({
    registry,
    breaker,
    timeoutMs: env.PROVIDER_TIMEOUT_MS,
    idleTimeoutMs: env.CHAT_STREAM_IDLE_TIMEOUT_MS,
    ...(opts.emergency ? { isProviderFrozen: opts.emergency.isProviderFrozen, onProviderStop: opts.emergency.onProviderStop } : {}),
  });
  const store = createConversationStore({
    prisma: opts.prisma,
    budget: { maxChars: env.CHAT_HISTORY_MAX_CHARS, maxMessages: env.CHAT_HISTORY_MAX_MESSAGES },
  });
  const chat = createChatService({
    chain,
    registry,
    breaker,
    store,
    coordination: opts.coordination,
    ratePerMin: env.CHAT_RATE_LIMIT_PER_MIN,
    log: opts.log,
    ...(opts.emergency ? { isProviderFrozen: opts.emergency.isProviderFrozen, emergency: opts.emergency } : {}),
  });
  // Chain and breaker are shared with consensus: one circuit per provider, one set of
  // cooldowns, one call-record stream.
  return { registry, chain, breaker, chat };
}
