/**
 * Cross-site request forgery: a request that changes state (any method but GET, HEAD and
 * OPTIONS), authenticated by the session cookie alone, must come from our own origin or one
 * in CORS_ORIGINS, else 403. Queries and subscriptions that cost money (procedure meta
 * `metered`) get the same check in the procedure middleware, from the context's
 * `crossOriginCookie`. Bearer tokens and API keys (in `x-api-key` too, where a route reads it)
 * are never affected.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../services/errors.ts";
import { CROSS_ORIGIN_MESSAGE, isCrossOriginCookieRequest } from "../trpc/cookies.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Our own origin as the browser names it (scheme and host as this request arrived). */
const selfOrigin = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

export function crossOriginCookie(request: FastifyRequest, allowedOrigins: readonly string[]): boolean {
  // A route that reads `x-api-key` (Anthropic's face) authenticates by it, not by the cookie
  // also sent: no other page can make a browser send that header either.
  const apiKey = request.headers["x-api-key"];
  if (request.routeOptions.config.apiKeyHeader && typeof apiKey === "string" && apiKey.trim() !== "") return false;
  return isCrossOriginCookieRequest(request.headers, selfOrigin(request), allowedOrigins);
}

export function registerCsrfCheck(app: FastifyInstance, deps: Pick<AppDeps, "env">): void {
  app.addHook("onRequest", (request, _reply, done) => {
    // (WebSocket upgrades are GETs: the socket code checks their Origin before using a cookie.)
    if (!SAFE_METHODS.has(request.method) && crossOriginCookie(request, deps.env.CORS_ORIGINS)) {
      return done(new AppError("FORBIDDEN", CROSS_ORIGIN_MESSAGE));
    }
    done();
  });
}
