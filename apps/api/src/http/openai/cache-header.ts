import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../services/errors.ts";
import { MAX_CACHE_TTL_SEC } from "../../services/chat/response-cache.ts";

/** Asks for the response cache: `x-switchboard-cache-ttl: <seconds>` (how long the answer is kept). */
export const CACHE_TTL_HEADER = "x-switchboard-cache-ttl";
/** Says whether the answer came from the response cache (`hit`) or from a provider (`miss`; kept when it could be). */
const CACHE_RESULT_HEADER = "x-switchboard-cache";

/**
 * How long the request asks its answer to be kept, in ms; undefined when it does not ask.
 * Anything but a whole number of seconds from 1 to a day is a 400 naming the header: a cache
 * silently not used would be paid for without anyone noticing.
 */
export function cacheTtlOf(request: FastifyRequest): number | undefined {
  const header = request.headers[CACHE_TTL_HEADER];
  if (header === undefined) return undefined;
  const seconds = typeof header === "string" && /^\d{1,6}$/.test(header.trim()) ? Number(header.trim()) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_CACHE_TTL_SEC)) {
    throw new AppError("BAD_REQUEST", `${CACHE_TTL_HEADER}: a whole number of seconds from 1 to ${MAX_CACHE_TTL_SEC}`, { details: { param: CACHE_TTL_HEADER } });
  }
  return seconds * 1000;
}

/** Tells a request that asked for the cache whether it was answered from it. */
export function markCacheResult(request: FastifyRequest, reply: FastifyReply, asked: number | undefined): void {
  if (asked !== undefined) void reply.header(CACHE_RESULT_HEADER, request.scope?.cacheHit ? "hit" : "miss");
}
