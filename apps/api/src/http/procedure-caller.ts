/**
 * REST routes that are aliases of tRPC procedures call them through a server-side caller, so
 * authentication (Bearer token or the SPA cookie), role guards, validation, the emergency
 * guard, rate limits and error statuses are the procedures' own and cannot drift.
 */
import type {} from "@fastify/cookie";
import type { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { noteErrorCode } from "../infra/request-scope.ts";
import { appRouter } from "../routers/index.ts";
import { clientGone, createContextInner, resolveUser, type AuthedUser } from "../trpc/context.ts";
import { ACCESS_COOKIE, readAccessToken, secureCookies, type CookieJar } from "../trpc/cookies.ts";
import { appErrorOf, errorData, publicMessage, toTRPCError } from "../trpc/errors.ts";
import { crossOriginCookie } from "./csrf.ts";
import { describeError, errorHeaders } from "./error-map.ts";
import { createCallerFactory } from "../trpc/init.ts";

const createCaller = createCallerFactory(appRouter);

export type Caller = ReturnType<typeof createCaller>;

/** The caller's identity from the request: Bearer header first, then the session cookie. */
export function requestUser(deps: AppDeps, request: FastifyRequest): Promise<AuthedUser | null> {
  return resolveUser(deps, readAccessToken(request.headers.authorization, request.cookies?.[ACCESS_COOKIE]), request.scope);
}

/** Cookies of this exchange, for procedures that set or clear the session cookies. */
export function cookieJarOf(request: FastifyRequest, reply: FastifyReply, publicUrl: string | undefined): CookieJar {
  return {
    secure: secureCookies(request, publicUrl),
    get: (name) => request.cookies?.[name],
    set: (name, value, opts) => void reply.setCookie(name, value, opts),
    clear: (name, opts) => void reply.clearCookie(name, opts),
  };
}

/** A caller acting for the request's user, with the request's id, IP, cookies and signal. */
export async function callerFor(deps: AppDeps, request: FastifyRequest, reply: FastifyReply): Promise<Caller> {
  return callerAs(deps, await requestUser(deps, request), request, reply);
}

/** callerFor, for a route that has resolved the request's user itself (to watch its credential). */
export function callerAs(deps: AppDeps, user: AuthedUser | null, request: FastifyRequest, reply: FastifyReply): Caller {
  return createCaller(
    createContextInner({
      deps,
      user,
      req: {
        requestId: request.id,
        ip: request.ip,
        userAgent: request.headers["user-agent"],
        cookies: cookieJarOf(request, reply, deps.env.PUBLIC_URL),
        signal: clientGone(reply),
        setHeader: (name, value) => {
          if (!reply.sent) void reply.header(name, value);
        },
        crossOriginCookie: crossOriginCookie(request, deps.env.CORS_ORIGINS),
        scope: request.scope,
      },
    }),
  );
}

/** Same statuses as /trpc; body in the REST shape {error:{code, message, ...details}}. */
export function sendProcedureError(reply: FastifyReply, thrown: unknown): FastifyReply {
  const error: TRPCError = toTRPCError(thrown);
  const { appCode, zodError, retryAfterSec, ...details } = errorData(error);
  const cause = appErrorOf(error);
  // Retry-After and x-should-retry as every dialect sends them.
  if (cause) void reply.headers(errorHeaders(describeError(cause)));
  else if (typeof retryAfterSec === "number") void reply.header("retry-after", String(retryAfterSec));
  const status = getHTTPStatusCodeFromError(error);
  noteErrorCode(reply.request.scope, String(appCode));
  const message = status >= 500 && appCode === "INTERNAL_SERVER_ERROR" ? "Internal error" : publicMessage(error);
  return reply.status(status).send({ error: { code: appCode, message, ...details, ...(zodError ? { issues: zodError } : {}) } });
}

/** A route handler that calls procedures and answers their result as JSON (errors mapped). */
export function procedureRoute<T>(deps: AppDeps, call: (caller: Caller, request: FastifyRequest) => Promise<T>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const caller = await callerFor(deps, request, reply);
      return reply.header("cache-control", "no-store").send(await call(caller, request));
    } catch (error) {
      return sendProcedureError(reply, error);
    }
  };
}
