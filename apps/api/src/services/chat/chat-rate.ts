/**
 * A user's chat rate (CHAT_RATE_LIMIT_PER_MIN) across instances, from leased quota (no round
 * trip per request): every chat call counts, on any transport, and so does a read of a kept
 * answer, which calls no model but is work all the same. Its own room so that the HTTP layer
 * counts a read without reaching into the chat service.
 */
import type { Coordination } from "../../infra/coordination/port.ts";
import { noteRateLimit, type RequestScope } from "../../infra/request-scope.ts";
import { AppError } from "../errors.ts";

export interface ChatRate {
  /** Counts one request of the user's; refuses (TOO_MANY_REQUESTS) past the limit. */
  count(userId: string, scope: RequestScope | undefined): Promise<void>;
}

export function createChatRate(coordination: Coordination, ratePerMin: number): ChatRate {
  return {
    async count(userId, scope) {
      const limit = await coordination.consumeLeased(`chat:rate:${userId}`, ratePerMin, 60_000);
      noteRateLimit(scope, { limit: ratePerMin, remaining: limit.remaining, resetMs: limit.resetMs });
      if (!limit.allowed) {
        throw new AppError("TOO_MANY_REQUESTS", `Chat rate limit reached (${ratePerMin} requests per minute)`, {
          retryAfterSec: Math.max(1, Math.ceil(limit.retryAfterMs / 1000)),
        });
      }
    },
  };
}
