/**
 * OpenAI's x-ratelimit-*-requests headers for the request limit a request was counted against
 * (an API key's own, or the user's chat rate): the limit, what is left of it, and how long
 * until its window starts again — which clients and SDK wrappers read to pace themselves.
 */
import type { RateLimitNote } from "../infra/request-scope.ts";

export function rateLimitHeaders(limit: RateLimitNote): Record<string, string> {
  return {
    "x-ratelimit-limit-requests": String(limit.limit),
    "x-ratelimit-remaining-requests": String(limit.remaining),
    "x-ratelimit-reset-requests": `${Math.max(0, Math.ceil(limit.resetMs / 1000))}s`,
  };
}

/** The figures a refusal carries in its details (`rateLimit`), if it carries them. */
export function rateLimitOfDetails(details: Record<string, unknown>): RateLimitNote | undefined {
  const note = details["rateLimit"] as Partial<RateLimitNote> | undefined;
  if (typeof note?.limit !== "number" || typeof note.remaining !== "number" || typeof note.resetMs !== "number") return undefined;
  return { limit: note.limit, remaining: note.remaining, resetMs: note.resetMs };
}
