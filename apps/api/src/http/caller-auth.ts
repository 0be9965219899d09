/**
 * Authentication and API-key policy for REST routes (/v1/* and REST aliases), declared on
 * each route: `config.keyScope` names the API-key scope the route needs (none: keys are
 * refused), `config.metered` marks routes that call a model (the key's model list, rate
 * limit and budget apply) and `config.counted` routes that read what a model call left
 * (the key's rate limit and the user's chat rate apply, no budget: a read costs no money).
 * The caller is resolved by the same function as tRPC's context.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { noteModel } from "../infra/request-scope.ts";
import { SESSION_ENDED_MESSAGE } from "../services/auth/credential-watch.ts";
import { AppError } from "../services/errors.ts";
import type { RequestStop } from "../services/gateway/chain-types.ts";
import { keyRefusal, type KeyAccess, type RateLimitInfo } from "../services/keys/index.ts";
import { credentialOf, resolveUser, type AuthedUser } from "../trpc/context.ts";
import { readAccessToken } from "../trpc/cookies.ts";
import { rateLimitHeaders } from "./rate-limit-headers.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Other declarations (features for the emergency gate…) live with their own readers. */
    [key: string]: unknown;
    /** What this route asks of an API key (KeyAccess: a scope, "any", "owner"); absent = API keys refused. */
    keyScope?: KeyAccess;
    /** Calls a model: the key's models, rate limit and budget apply. */
    metered?: boolean;
    /** Reads what a model call left: counted against the key's rate limit and the user's chat rate. */
    counted?: boolean;
    /** Also takes the credential from `x-api-key`, as Anthropic's clients send it (Authorization wins when both come). */
    apiKeyHeader?: boolean;
  }
}

export interface AuthorizeOptions {
  /** The model the request names (checked against an API key's list; noted for the log when the route is metered). */
  model?: string | undefined;
  /** Also accept the SPA's session cookie (REST aliases used by the admin). */
  cookie?: string | undefined;
}

/**
 * The credential a request carries: `Authorization: Bearer`, or `x-api-key` on a route that
 * declares it (apiKeyHeader), or else the session cookie given. An Authorization header of
 * another scheme (an ingress's `Basic`) does not hide the `x-api-key` beside it.
 */
export function requestToken(request: FastifyRequest, cookie: string | undefined): string | undefined {
  const bearer = readAccessToken(request.headers.authorization, undefined);
  if (bearer) return bearer;
  const apiKey = request.headers["x-api-key"];
  if (request.routeOptions.config.apiKeyHeader && typeof apiKey === "string" && apiKey.trim() !== "") return apiKey.trim();
  return request.headers.authorization ? undefined : cookie;
}

/** The authenticated caller of a REST request; throws UNAUTHORIZED, FORBIDDEN or TOO_MANY_REQUESTS. */
export async function authorizeRequest(deps: AppDeps, request: FastifyRequest, reply: FastifyReply, opts: AuthorizeOptions = {}): Promise<AuthedUser> {
  const token = requestToken(request, opts.cookie);
  const user = await resolveUser(deps, token, request.scope);
  if (!user) {
    const isKey = token?.startsWith("sb-") === true;
    const how = request.routeOptions.config.apiKeyHeader ? "x-api-key: <API key or access token> or Authorization: Bearer <…>" : "Authorization: Bearer <access token or API key>";
    throw new AppError("UNAUTHORIZED", isKey ? "Invalid, revoked or expired API key" : `Invalid or missing access token: send ${how}`, {
      details: { openaiCode: "invalid_api_key" },
    });
  }
  const config = request.routeOptions.config;
  if (config.metered && opts.model !== undefined) noteModel(request.scope, opts.model);
  // First: a request refused for a tag that is not its caller's is logged without it.
  deps.keys.refuseReservedTags(request.scope);
  const key = user.apiKey;
  if (key) {
    // Any route that names a model keeps to the key's list, metered or not (an estimate too:
    // its 404 for an unknown name would tell a limited key which models exist).
    const refusal = keyRefusal(key, { scope: config.keyScope, models: opts.model !== undefined ? [opts.model] : undefined });
    if (refusal) throw new AppError("FORBIDDEN", refusal);
  }
  if (config.metered) sendKeyRateLimit(reply, await deps.keys.admit(user.id, key, request.scope));
  if (config.counted) {
    if (key) sendKeyRateLimit(reply, await deps.keys.countRequest(key));
    await deps.chatRate.count(user.id, request.scope);
  }
  return user;
}

/** An API key's own rate-limit figures, as OpenAI's x-ratelimit-* headers. */
function sendKeyRateLimit(reply: FastifyReply, limit: RateLimitInfo | undefined): void {
  if (limit) void reply.headers(rateLimitHeaders(limit));
}

/**
 * The end of the session or API key that authorized a REST stream (credential-watch.ts), as
 * a stop (RequestStop) that aborts with UNAUTHORIZED "Session ended; sign in again" — the
 * refusal the caller's next request would get. A stop rather than a signal: the stream's
 * upstream call follows it without an AbortController of its own.
 */
export function credentialEnds(deps: AppDeps, user: AuthedUser): RequestStop {
  return (abort) => deps.credentials.onEnd(credentialOf(user), user.changesSeen, () => abort(credentialEnded()));
}

const credentialEnded = () => new AppError("UNAUTHORIZED", SESSION_ENDED_MESSAGE, { details: { openaiCode: "invalid_api_key" } });
