/**
 * Builds the chat feature on top of the gateway core (registry, breaker, chain, built once
 * by the composition root): conversation store and the service that ties them together.
 */
import type { Logger } from "pino";
import type { TProviderId } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { AppError } from "../errors.ts";
import type { Gateway } from "../gateway/index.ts";
import type { ChatRate } from "./chat-rate.ts";
import { createCachePurge } from "./cache-purge.ts";
import { createCachePurgeRecords } from "./cache-purge-records.ts";
import { createChatService, type ChatEmergencyHooks } from "./chat-service.ts";
import { createConversationStore } from "./conversation-store.ts";
import { createResponseCache } from "./response-cache.ts";

export interface ChatEmergency extends ChatEmergencyHooks {
  /** The EMERGENCY_STOP refusal of a freeze taking `id` out of chains right now, or null. */
  frozenRefusal(id: TProviderId): AppError | null;
}

export function createChat(opts: {
  env: Pick<Env, "CHAT_HISTORY_MAX_CHARS" | "CHAT_HISTORY_MAX_MESSAGES" | "REQUEST_LOG_RETENTION_DAYS">;
  gateway: Gateway;
  prisma: PrismaClient;
  coordination: Coordination;
  /** The user's chat rate (shared with the routes that read kept answers). */
  rate: ChatRate;
  /** Whether a user by this id exists (the auth service's answer). */
  userExists: (id: string) => Promise<boolean>;
  log: Logger;
  emergency?: ChatEmergency;
}) {
  const { env, gateway } = opts;
  const store = createConversationStore({
    prisma: opts.prisma,
    budget: { maxChars: env.CHAT_HISTORY_MAX_CHARS, maxMessages: env.CHAT_HISTORY_MAX_MESSAGES },
  });
  const cache = createResponseCache(opts.coordination, opts.log);
  return createChatService({
    chain: gateway.chain,
    registry: gateway.registry,
    breaker: gateway.breaker,
    store,
    cache,
    rate: opts.rate,
    purges: createCachePurge({ cache, records: createCachePurgeRecords(opts.prisma, { ownKeptDays: env.REQUEST_LOG_RETENTION_DAYS }), userExists: opts.userExists, log: opts.log }),
    log: opts.log,
    ...(opts.emergency ? { frozenRefusal: opts.emergency.frozenRefusal, emergency: opts.emergency } : {}),
  });
}
