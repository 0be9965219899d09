/**
 * Whose body over 1 MB a request carries (body-limits.ts `largeBodyHolder`), decided before a
 * byte of it is read: the caller its credential resolves to, as the route itself will resolve
 * it. A tRPC procedure's own route (`procedureMeta`, trpc-endpoint.ts) also takes the admin's
 * session cookie, as tRPC's context does: the admin signs in with httpOnly cookies and sends
 * no Authorization header, and its imports would be refused unread. And on such a route the
 * body is read only for a caller the procedure accepts (trpc/access.ts, from its meta), else
 * 403 unread: a caller it would refuse anyway could otherwise hold the room a large body
 * draws on with slow uploads, and refuse every import of those it accepts.
 */
import type { FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../services/errors.ts";
import { callerRefusal } from "../trpc/access.ts";
import { resolveUser } from "../trpc/context.ts";
import { ACCESS_COOKIE } from "../trpc/cookies.ts";
import { requestToken } from "./caller-auth.ts";
import type { Meta } from "../trpc/meta.ts";
import { crossOriginCookie } from "./csrf.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The tRPC procedure this route serves alone, for its larger body limit. */
    procedureMeta?: Meta;
  }
}

export function largeBodyHolder(deps: AppDeps): (request: FastifyRequest) => Promise<string | Error> {
  return async (request) => {
    const meta = request.routeOptions.config.procedureMeta;
    // The cookie from another origin is no credential here (the CSRF check has refused such a
    // POST already): a page elsewhere cannot make a signed-in browser hold the pool.
    const cookie = meta && !crossOriginCookie(request, deps.env.CORS_ORIGINS) ? request.cookies[ACCESS_COOKIE] : undefined;
    const user = await resolveUser(deps, requestToken(request, cookie), request.scope);
    if (!user) return unauthorizedLargeBody();
    const refused = meta && callerRefusal(user, meta);
    return refused ? forbiddenLargeBody(refused) : user.id;
  };
}

const unauthorizedLargeBody = () =>
  new AppError("UNAUTHORIZED", "Invalid or missing access token: a request body over 1 MB is read only with a valid access token or API key", {
    details: { openaiCode: "invalid_api_key" },
  });

const forbiddenLargeBody = (refused: string) =>
  new AppError("FORBIDDEN", `A request body over 1 MB is read only for a caller this procedure accepts: ${refused}`);
