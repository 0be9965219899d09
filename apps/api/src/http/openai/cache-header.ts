import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../services/errors.ts";
import { MAX_CACHE_TTL_SEC, type CachePolicy } from "../../services/chat/response-cache.ts";

/** Asks for the response cache: `x-switchboard-cache-ttl: <seconds>` (how long the answer is kept). */
export const CACHE_TTL_HEADER = "x-switchboard-cache-ttl";
/** Says whether the answer came from the response cache (`hit`), from a provider (`miss`; kept when it could be), or from a provider because the request said so (`refresh`). */
const CACHE_RESULT_HEADER = "x-switchboard-cache";

/**
 * How the request asks to use the response cache; undefined when it does not ask. The ttl
 * header asks; HTTP's own request directives then say more, as they do to any cache:
 * `Cache-Control: no-cache` (or `max-age=0`, or a lone `Pragma: no-cache`) takes a provider's
 * answer rather than a kept one (and keeps it in its place), `no-store` keeps nothing of this
 * request's. Anything but a whole number of seconds from 1 to a day is a 400 naming the
 * header: a cache silently not used would be paid for without anyone noticing.
 */
export function cachePolicyOf(request: FastifyRequest): CachePolicy | undefined {
  const header = request.headers[CACHE_TTL_HEADER];
  if (header === undefined) return undefined;
  const seconds = typeof header === "string" && /^\d{1,6}$/.test(header.trim()) ? Number(header.trim()) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_CACHE_TTL_SEC)) {
    throw new AppError("BAD_REQUEST", `${CACHE_TTL_HEADER}: a whole number of seconds from 1 to ${MAX_CACHE_TTL_SEC}`, { details: { param: CACHE_TTL_HEADER } });
  }
  const control = request.headers["cache-control"];
  const directives = cacheControlDirectives(control);
  // max-age=0 accepts no kept answer, and a lone Pragma: no-cache is HTTP/1.0's no-cache.
  const refresh = directives.has("no-cache") || directives.get("max-age") === "0" || (control === undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(String(request.headers.pragma ?? "")));
  return { ttlMs: seconds * 1000, reuse: !refresh, store: !directives.has("no-store") };
}

/** Tells a request that asked for the cache whether it was answered from it. */
export function markCacheResult(request: FastifyRequest, reply: FastifyReply, asked: CachePolicy | undefined): void {
  if (asked === undefined) return;
  void reply.header(CACHE_RESULT_HEADER, request.scope?.cacheHit ? "hit" : asked.reuse ? "miss" : "refresh");
}

/** A Cache-Control header's directives, by lower-cased name, with their arguments ("" for none; quotes dropped). */
function cacheControlDirectives(header: string | undefined): Map<string, string> {
  return new Map(
    (header ?? "").split(",").map((part) => {
      const [name = "", argument = ""] = part.split("=", 2);
      return [name.trim().toLowerCase(), argument.trim().replace(/^"(.*)"$/, "$1")];
    }),
  );
}
