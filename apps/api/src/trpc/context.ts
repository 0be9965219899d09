import { randomUUID } from "node:crypto";
// Brings in the cookie plugin's request/reply typings (req.cookies, res.setCookie).
import type {} from "@fastify/cookie";
// Brings in request.scope (set by the HTTP telemetry hook).
import type {} from "./request-decorations.ts";
import type { TRPCError } from "@trpc/server";
import type { CreateFastifyContextOptions } from "@trpc/server/adapters/fastify";
import type { FastifyReply } from "fastify";
import type { TRole } from "@switchboard/schema";
import type { AppDeps } from "../deps.ts";
import { isDatabaseUnavailable } from "../infra/database-errors.ts";
import { noteKey, noteUser, type RequestScope } from "../infra/request-scope.ts";
import { whenResponseClosed } from "../infra/response-closed.ts";
import type { WatchedCredential } from "../services/auth/credential-watch.ts";
import { databaseUnavailable } from "../services/errors.ts";
import type { CallerContext, RequestStop } from "../services/gateway/chain-types.ts";
import { looksLikeApiKey, type KeyGrant } from "../services/keys/index.ts";
import { ACCESS_COOKIE, isCrossOriginCookieRequest, readAccessToken, secureCookies, type CookieJar } from "./cookies.ts";
import { toTRPCError } from "./errors.ts";
import type { Meta } from "./meta.ts";

export interface AuthedUser {
  id: string;
  email: string;
  role: TRole;
  sessionId: string;
  /** Set when the caller presented an API key: what the key narrows the owner to. */
  apiKey?: KeyGrant;
  /**
   * When the credential stops acting by itself, in epoch ms: an access token's `exp`, an API
   * key's `expiresAt`; null: never (a key without expiry). A signed-in socket closes then.
   */
  expiresAtMs?: number | null;
  /**
   * The credential watch's change count from before this caller was resolved: a stream it
   * starts re-checks the credential once if a change was heard since (credential-watch.ts).
   */
  changesSeen?: number;
}

/** The credential a caller's streams are watched for (credential-watch.ts): their session, or their API key. */
export function credentialOf(user: AuthedUser): WatchedCredential {
  return { userId: user.id, role: user.role, sessionId: user.sessionId, keyId: user.apiKey?.keyId };
}

/** Who makes a change, as a configuration audit names them: the user, and the API key they came with. */
export function configActorOf(user: AuthedUser): { id: string; email: string; keyId: string | undefined } {
  return { id: user.id, email: user.email, keyId: user.apiKey?.keyId };
}

/** What procedures may know about the HTTP exchange, without depending on Fastify. */
export interface RequestInfo {
  requestId: string;
  ip: string | undefined;
  userAgent: string | undefined;
  cookies: CookieJar;
  /** Aborted when the client goes away (used by streams to abort upstream calls). */
  signal: AbortSignal | undefined;
  /** The request's calls: how many, and whether one of them refuses to share a batch. */
  batch: { size: number; hasUnbatchable: boolean };
  /** Sets a response header (rate-limit figures); a no-op outside HTTP. */
  setHeader: (name: string, value: string) => void;
  /**
   * Authenticated by the session cookie alone, from an origin that is neither ours nor in
   * CORS_ORIGINS: metered procedures refuse it (cross-site request forgery).
   */
  crossOriginCookie: boolean;
  /**
   * Set by transports without an HTTP request per call (tRPC over WebSocket): every procedure
   * call runs through it, so the transport can give the call a request scope and a
   * request-log row of its own, and say who makes it (the socket's token resolved again).
   */
  eachCall?: CallRunner | undefined;
  /** The request's scope (user, procedures, upstream calls, error code), where there is one. */
  scope?: RequestScope | undefined;
}

export interface ProcedureCall {
  path: string;
  type: "query" | "mutation" | "subscription";
  getRawInput: () => Promise<unknown>;
  /** Aborted when the call is stopped early: a subscription unsubscribed, its socket closed. */
  signal: AbortSignal | undefined;
}

/** A procedure call's result as middlewares see it (a subscription's data is its stream). */
export type CallResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

/** What a transport's runner decides for one call. */
export interface CallSetting {
  /** The scope the call is booked on (undefined: the request's). */
  scope: RequestScope | undefined;
  /** Who makes the call (null: anonymous); procedures see it as `ctx.user`. */
  user: AuthedUser | null;
}

/** Runs a procedure call; `run` makes it with the setting the transport chose for it. */
export type CallRunner = <R extends CallResult>(call: ProcedureCall, run: (setting: CallSetting) => Promise<R>) => Promise<R>;

export interface Context {
  deps: AppDeps;
  user: AuthedUser | null;
  req: RequestInfo;
}

export function createContextInner(opts: { deps: AppDeps; user: AuthedUser | null; req?: Partial<RequestInfo> }): Context {
  return {
    deps: opts.deps,
    user: opts.user,
    req: {
      requestId: opts.req?.requestId ?? randomUUID(),
      ip: opts.req?.ip,
      userAgent: opts.req?.userAgent,
      cookies: opts.req?.cookies ?? { secure: false, get: () => undefined, set: () => {}, clear: () => {} },
      signal: opts.req?.signal,
      batch: opts.req?.batch ?? { size: 1, hasUnbatchable: false },
      setHeader: opts.req?.setHeader ?? (() => {}),
      crossOriginCookie: opts.req?.crossOriginCookie ?? false,
      eachCall: opts.req?.eachCall,
      scope: opts.req?.scope,
    },
  };
}

/**
 * The one authentication function of every surface (tRPC, /v1, REST): resolves the caller
 * from an access token (Bearer or the SPA's httpOnly cookie) or an API key (`sb-…`, acting
 * as its owner narrowed by its scopes and models). Null = anonymous, also for a credential
 * that could not be checked. Throws only when the check needed the database and it is
 * unavailable (AppError SERVICE_UNAVAILABLE): a 503 tells the client to retry, where a 401
 * would sign the user out.
 */
export async function resolveUser(deps: AppDeps, token: string | undefined, scope?: RequestScope): Promise<AuthedUser | null> {
  if (!token) return null;
  const changesSeen = deps.credentials.changesSeen();
  if (looksLikeApiKey(token)) return resolveKey(deps, token, scope, changesSeen);
  try {
    const claims = await deps.auth.authenticate(token);
    if (!claims) return null;
    // For the request's access-log line (the user id only, never the email or token).
    noteUser(scope, claims.userId);
    return { id: claims.userId, email: claims.email, role: claims.role, sessionId: claims.sessionId, expiresAtMs: claims.expiresAtMs, changesSeen };
  } catch (error) {
    if (isDatabaseUnavailable(error)) throw databaseUnavailable(error);
    deps.log.warn({ err: error }, "token verification failed; treating caller as anonymous");
    return null;
  }
}

async function resolveKey(deps: AppDeps, secret: string, scope: RequestScope | undefined, changesSeen: number): Promise<AuthedUser | null> {
  try {
    const grant = await deps.keys.authenticate(secret);
    if (!grant) return null;
    noteUser(scope, grant.userId);
    noteKey(scope, grant.keyId, grant.tags);
    return { id: grant.userId, email: grant.email, role: grant.role, sessionId: `key:${grant.keyId}`, apiKey: grant, expiresAtMs: grant.expiresAtMs, changesSeen };
  } catch (error) {
    if (isDatabaseUnavailable(error)) throw databaseUnavailable(error);
    // The key could not be verified otherwise: refused, never let through.
    deps.log.warn({ err: error }, "API key verification failed; refusing the key");
    return null;
  }
}

/** Aborts when the client leaves before the response is finished. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  clientLeaving(reply)((reason) => controller.abort(reason));
  return controller.signal;
}

/**
 * The client leaving as a stop subscription (CallerContext.leaves): the same event as
 * clientGone without an AbortSignal, for the gateway routes that need nothing else.
 */
export function clientLeaving(reply: FastifyReply): RequestStop {
  const res = reply.raw;
  // Not the request's "close": Node emits it as soon as the request body has been read, which
  // is before any handler runs. The response closing unfinished means the client left.
  return (abort) =>
    whenResponseClosed(res, () => {
      if (!res.writableFinished) abort(new Error("client disconnected"));
    });
}

export function createContextFactory(deps: AppDeps) {
  return async function createContext({ req, res, info }: CreateFastifyContextOptions): Promise<Context> {
    const cookies: CookieJar = {
      secure: secureCookies(req, deps.env.PUBLIC_URL),
      get: (name) => req.cookies?.[name],
      set: (name, value, opts) => void res.setCookie(name, value, opts),
      clear: (name, opts) => void res.clearCookie(name, opts),
    };
    // connectionParams: browsers on another origin cannot set headers on an EventSource, so
    // a subscription may carry its token in the URL. Nothing else may: URLs end up in proxy
    // and access logs, and a logged token must not be able to change anything.
    // (Over WebSocket they arrive in the first message, `?connectionParams=1`, not in the URL.)
    const fromMessage = info.url?.searchParams.get("connectionParams") === "1";
    const paramToken = info.type === "subscription" || fromMessage ? info.connectionParams?.["token"] : undefined;
    const token = readAccessToken(req.headers.authorization, cookies.get(ACCESS_COOKIE)) ?? paramToken ?? undefined;
    // tRPC answers an error thrown here with a 500 unless it is a TRPCError already.
    const user = await resolveUser(deps, token, req.scope).catch((error: unknown) => {
      throw toTRPCError(error);
    });
    return createContextInner({
      deps,
      user,
      req: {
        requestId: req.id,
        ip: req.ip,
        userAgent: req.headers["user-agent"],
        cookies,
        signal: clientGone(res),
        batch: {
          size: info.calls.length,
          hasUnbatchable: info.calls.some((call) => (call.procedure?._def.meta as Meta | undefined)?.batchable === false),
        },
        setHeader: (name, value) => {
          if (!res.sent && !res.raw.headersSent) void res.header(name, value);
        },
        crossOriginCookie: isCrossOriginCookieRequest(req.headers, `${req.protocol}://${req.host}`, deps.env.CORS_ORIGINS),
        scope: req.scope,
      },
    });
  };
}

/**
 * What a procedure hands the service it calls: the request's signal (for a subscription,
 * aborted also when tRPC ends it) and its scope.
 */
export function callerOf(req: RequestInfo, subscriptionSignal?: AbortSignal): CallerContext {
  const { signal } = req;
  return { signal: signal && subscriptionSignal ? AbortSignal.any([signal, subscriptionSignal]) : (signal ?? subscriptionSignal), scope: req.scope };
}
