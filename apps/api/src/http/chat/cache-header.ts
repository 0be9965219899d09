/**
 * The response cache's request and answer headers (x-switchboard-cache-ttl,
 * x-switchboard-cache), read and set alike on every chat-shaped /v1 dialect: the cache is the
 * chat service's, and a dialect only says, through its parse, what its body allows.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../services/errors.ts";
import { MAX_CACHE_TTL_SEC, type CacheDirectives } from "../../services/chat/response-cache.ts";

/** Asks for the response cache: `x-switchboard-cache-ttl: <seconds>` (how long the answer is kept; a route may ask for its requests). */
export const CACHE_TTL_HEADER = "x-switchboard-cache-ttl";
/** Says whether the answer came from the response cache (`hit`), from a provider (`miss`; kept when it could be), or from a provider because the request said so (`refresh`); only on requests that used it. */
const CACHE_RESULT_HEADER = "x-switchboard-cache";

/** What a request's body says about keeping its answer: whether it may be kept, and whether a route's cache time may apply. */
export interface BodyCacheTerms {
  keep: boolean;
  routeDefault: boolean;
}

/**
 * What the request says to the response cache. The ttl header asks for it (a route may ask
 * for every request it serves); HTTP's own request directives say more, as they do to any
 * cache, whoever asked: `Cache-Control: no-cache` (or `max-age=0`, or a lone
 * `Pragma: no-cache`) takes a provider's answer rather than a kept one (and keeps it in its
 * place), `no-store` keeps nothing of this request's. The body's terms hold too, as the
 * dialect's parse read them (whether its answer may be kept at all, whether a route's cache
 * time may apply). A ttl that is anything but a whole number of seconds from 1 to a day is a
 * 400 naming the header: a cache silently not used would be paid for without anyone noticing.
 */
export function cacheDirectivesOf(request: FastifyRequest, body: BodyCacheTerms): CacheDirectives {
  const header = request.headers[CACHE_TTL_HEADER];
  const seconds = header === undefined ? undefined : typeof header === "string" && /^\d{1,6}$/.test(header.trim()) ? Number(header.trim()) : NaN;
  if (seconds !== undefined && !(seconds >= 1 && seconds <= MAX_CACHE_TTL_SEC)) {
    throw new AppError("BAD_REQUEST", `${CACHE_TTL_HEADER}: a whole number of seconds from 1 to ${MAX_CACHE_TTL_SEC}`, { details: { param: CACHE_TTL_HEADER } });
  }
  const control = request.headers["cache-control"];
  const ttlMs = seconds === undefined ? undefined : seconds * 1000;
  if (control === undefined && request.headers.pragma === undefined) return { ttlMs, reuse: true, store: body.keep, routeDefault: body.routeDefault };
  const directives = cacheControlDirectives(control);
  // max-age=0 accepts no kept answer, and a lone Pragma: no-cache is HTTP/1.0's no-cache.
  const refresh = directives.has("no-cache") || directives.get("max-age") === "0" || (control === undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(String(request.headers.pragma ?? "")));
  return { ttlMs, reuse: !refresh, store: body.keep && !directives.has("no-store"), routeDefault: body.routeDefault };
}

/** Tells a request that used the cache whether it was answered from it. */
export function markCacheResult(request: FastifyRequest, reply: FastifyReply): void {
  const result = request.scope?.cacheResult;
  if (result !== undefined) void reply.header(CACHE_RESULT_HEADER, result);
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
