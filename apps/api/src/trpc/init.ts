import { initTRPC, TRPCError } from "@trpc/server";
import { findInputFlaw, type InputFlaw, type TRole } from "@switchboard/schema";
import { z } from "zod";
import { rateLimitHeaders } from "../http/rate-limit-headers.ts";
import { SSE_HEARTBEAT_MS } from "../http/sse-writer.ts";
import { isDatabaseUnavailable } from "../infra/database-errors.ts";
import { noteErrorCode, noteModel, noteProcedure } from "../infra/request-scope.ts";
import type { Feature } from "../services/emergency/policy.ts";
import { AppError } from "../services/errors.ts";
import { keyRefusal } from "../services/keys/index.ts";
import type { Watch } from "../services/auth/credential-watch.ts";
import { credentialOf, type AuthedUser, type CallSetting, type Context } from "./context.ts";
import type { Meta } from "./meta.ts";
import { roleRefusal } from "./access.ts";
import { CROSS_ORIGIN_MESSAGE } from "./cookies.ts";
import { GUARD_MESSAGES, errorData, publicMessage, sessionEndedError, toTRPCError } from "./errors.ts";
import { endWhen, type StreamEnd } from "./stream-ends.ts";
import { isAsyncIterable, callsModels, observeStream, procedureErrorCode } from "./telemetry.ts";

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    defaultMeta: { requiredRole: "PUBLIC", feature: "admin" },
    sse: {
      // A heartbeat on every stream: proxies and the idle-socket timeout see traffic, and...
      ping: { enabled: true, intervalMs: SSE_HEARTBEAT_MS },
      // ...a client that hears nothing for a few beats reconnects (a dead instance, a cut link).
      client: { reconnectAfterInactivityMs: SSE_HEARTBEAT_MS * 3 },
    },
    errorFormatter({ shape, error }) {
      const data = { ...shape.data, ...errorData(error) };
      // Stack traces never leave the server.
      delete (data as { stack?: unknown }).stack;
      return { ...shape, message: publicMessage(error), data };
    },
  });

/**
 * Outermost: notes the procedure and its result on the request (access log, metrics), so it
 * also sees the refusals of every guard below. Gateway streams are observed for their
 * closing `error` event. Over a transport that has no HTTP request per call (tRPC over
 * WebSocket), the call runs through the transport's `eachCall`, which gives it a request
 * scope of its own and says who makes the call: the procedures below see them as
 * `ctx.req.scope` and `ctx.user`. A signed-in caller's subscription is watched for the end of
 * the session or API key that authorized it (credential-watch.ts): its procedure's signal
 * aborts and the stream ends with UNAUTHORIZED, on SSE and WebSocket alike.
 */
const observed = t.procedure.use(({ ctx, path, type, meta, getRawInput, signal, next }) => {
  const call = async ({ scope, user }: CallSetting = { scope: ctx.req.scope, user: ctx.user }) => {
    noteProcedure(scope, path);
    const watch = type === "subscription" && user ? watchCredential(ctx, user, signal) : undefined;
    const req = { ...ctx.req, scope, ...(watch ? { signal: anyOf(ctx.req.signal, watch.signal) } : {}) };
    const result = await (scope === ctx.req.scope && user === ctx.user && !watch ? next() : next({ ctx: { user, req } }));
    if (!result.ok) {
      watch?.stop();
      noteErrorCode(scope, procedureErrorCode(result.error));
      ctx.deps.metrics.recordProcedure(path, type, result.error.code);
      return result;
    }
    ctx.deps.metrics.recordProcedure(path, type, "OK");
    if (type !== "subscription" || !isAsyncIterable(result.data)) {
      watch?.stop();
      return result;
    }
    // One layer however many ends a stream has; the watch is released when the stream ends,
    // however it ends.
    const credentialEnds: StreamEnd[] = watch ? [{ signal: watch.signal, error: sessionEndedError }] : [];
    const endsWith = (source: AsyncIterable<unknown>, ends: StreamEnd[]) => (ends.length > 0 ? endWhen(source, ends, watch?.stop) : source);
    if (callsModels(meta?.feature)) {
      // Chat and consensus streams end on their own, at the latest with an `error` event when
      // the shutdown deadline aborts their upstream call; cut short when the session ends.
      return { ...result, data: observeStream(endsWith(result.data, credentialEnds), ctx.deps.requestLog.storeBodies, scope) };
    }
    // Endless streams (emergency.watch, metrics.live) end at once on SIGTERM, and anonymous ones
    // after WATCH_STREAM_MAX_MS, with an explicit last event; their clients reconnect.
    const { lifecycle, env } = ctx.deps;
    const shutdown: StreamEnd = { signal: lifecycle.stopping, error: () => toTRPCError(new AppError("SERVICE_UNAVAILABLE", "Switchboard is shutting down; reconnect", { retryAfterSec: 1 })) };
    const maxDuration = (): StreamEnd => ({ signal: AbortSignal.timeout(env.WATCH_STREAM_MAX_MS), error: () => new TRPCError({ code: "TIMEOUT", message: "Stream reached its maximum duration; reconnect" }) });
    return { ...result, data: endsWith(result.data, user ? [shutdown, ...credentialEnds] : [shutdown, maxDuration()]) };
  };
  return ctx.req.eachCall ? ctx.req.eachCall({ path, type, getRawInput, signal }, call) : call();
});

/**
 * Watches the caller's credential for one subscription, until the stream ends — or until
 * `stopped` aborts, which tRPC does however a subscription stops early, also before the
 * stream was first read (when a generator's own `finally` never runs).
 */
function watchCredential(ctx: Context, user: AuthedUser, stopped: AbortSignal | undefined): Watch {
  const watch = ctx.deps.credentials.watch(credentialOf(user), user.changesSeen);
  if (stopped?.aborted) watch.stop();
  else stopped?.addEventListener("abort", watch.stop, { once: true });
  return {
    signal: watch.signal,
    stop() {
      stopped?.removeEventListener("abort", watch.stop);
      watch.stop();
    },
  };
}

const anyOf = (a: AbortSignal | undefined, b: AbortSignal): AbortSignal => (a ? AbortSignal.any([a, b]) : b);

/**
 * Every procedure runs through this: the emergency gate (503 EMERGENCY_STOP while a freeze
 * stops the procedure's declared feature; it reads local state only, so it costs no I/O),
 * the cross-origin cookie check, then the procedure;
 * services throw AppError, clients get the mapped code.
 */
const baseProcedure = observed.use(async ({ ctx, meta, type, getRawInput, next }) => {
  const refusal = ctx.deps.emergency.check({ kind: "feature", feature: await featureOf(meta, getRawInput), role: ctx.user?.role ?? null });
  if (refusal) throw toTRPCError(refusal);
  // A page on another origin of the same site can make the browser send the session cookie
  // (even to a GET): whatever changes state or costs money refuses that.
  if (ctx.req.crossOriginCookie && (type === "mutation" || meta?.metered)) {
    throw new TRPCError({ code: "FORBIDDEN", message: CROSS_ORIGIN_MESSAGE });
  }
  if (ctx.req.batch.size > 1 && ctx.req.batch.hasUnbatchable) {
    throw new TRPCError({ code: "BAD_REQUEST", message: UNBATCHABLE_MESSAGE });
  }
  // Input hygiene for every procedure, present and future: no string anywhere in the input
  // may hold NUL (PostgreSQL cannot store it), and no value may nest deeper than recursive
  // code can take. Refused as a zod issue naming the field.
  const flaw = findInputFlaw(await getRawInput());
  if (flaw) throw new TRPCError({ code: "BAD_REQUEST", message: flaw.message, cause: flawIssue(flaw) });
  const result = await next();
  // tRPC wraps anything that is not a TRPCError as INTERNAL_SERVER_ERROR with the original
  // as `cause`; unwrap it so an AppError keeps its meaning.
  if (!result.ok && result.error.code === "INTERNAL_SERVER_ERROR" && result.error.cause) {
    // A user deleted after their token was checked makes writes fail on a foreign key: that
    // is a 401 for a caller who no longer exists, not a server fault.
    const cause = result.error.cause;
    if (ctx.user && !(cause instanceof AppError) && !isDatabaseUnavailable(cause) && !(await ctx.deps.auth.userExists(ctx.user.id).catch(() => true))) {
      throw new TRPCError({ code: "UNAUTHORIZED", message: GUARD_MESSAGES.unauthenticated });
    }
    throw toTRPCError(cause);
  }
  // A stream's errors are thrown after the procedure returned, past the unwrap above; map
  // them the same way, or an AppError (e.g. NOT_FOUND) would reach the client as a 500.
  if (result.ok && isAsyncIterable(result.data)) return { ...result, data: mapStreamErrors(result.data) };
  return result;
});

async function featureOf(meta: Meta | undefined, getRawInput: () => Promise<unknown>): Promise<Feature> {
  const feature = meta?.feature ?? "admin";
  if (!meta?.containsLeak) return feature;
  // An unreadable input is no containment; the procedure's own validation reports it.
  const raw = await getRawInput().catch(() => undefined);
  return meta.containsLeak(raw) ? "containment" : feature;
}

async function* mapStreamErrors<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (error) {
    throw toTRPCError(error);
  }
}

/** A ZodError with one issue at the flaw's path, made by zod itself so it is a real Error (tRPC keeps it as the cause). */
function flawIssue(flaw: InputFlaw) {
  return z
    .any()
    .superRefine((_value, ctx) => ctx.addIssue({ code: "custom", path: flaw.path, message: flaw.message }))
    .safeParse(null).error!;
}

export const UNBATCHABLE_MESSAGE = "Sign-in and token procedures (auth.*) cannot be batched with other calls; send them alone";

interface MeteredInput {
  model?: unknown;
  provider?: unknown;
  providers?: unknown;
  aggregator?: unknown;
}

const named = (value: unknown): value is string => typeof value === "string" && value.length > 0;

/** The `model` a gateway procedure's input asks for ("auto" when it names none). */
function requestedModel(input: MeteredInput | undefined): string {
  return named(input?.model) ? input.model : "auto";
}

/**
 * The model names a call asks for, as /v1 would spell the same request, for a key's model
 * list. A pinned `provider` is part of the name (`provider/model`, or `provider` alone), so a
 * key limited to some models cannot reach another provider by pinning it; a consensus over
 * chosen `providers` asks each of them by name, and its `aggregator` too. A model that is
 * not a route's name is, over tRPC, sent to every provider of the `auto` route: it asks for
 * `auto` as well as the model. None of these: `auto`.
 */
function modelsAsked(input: MeteredInput | undefined, isRoute: (name: string) => boolean): string[] {
  const names: string[] = [];
  if (Array.isArray(input?.providers)) names.push(...input.providers.filter(named));
  else if (named(input?.provider)) names.push(named(input.model) ? `${input.provider}/${input.model}` : input.provider);
  else {
    const model = requestedModel(input);
    names.push(model);
    if (model !== "auto" && !isRoute(model)) names.push("auto");
  }
  if (named(input?.aggregator)) names.push(input.aggregator);
  return names;
}

function requireRole(required: TRole) {
  return baseProcedure.meta({ requiredRole: required }).use(async ({ ctx, meta, getRawInput, next }) => {
    if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: GUARD_MESSAGES.unauthenticated });
    const roleRefused = roleRefusal(ctx.user, required);
    if (roleRefused) throw new TRPCError({ code: "FORBIDDEN", message: roleRefused });
    const input = meta?.metered ? ((await getRawInput().catch(() => undefined)) as MeteredInput | undefined) : undefined;
    if (meta?.metered) noteModel(ctx.req.scope, requestedModel(input));
    // First: a request refused for a tag that is not its caller's is logged without it.
    try {
      ctx.deps.keys.refuseReservedTags(ctx.req.scope);
    } catch (error) {
      throw toTRPCError(error);
    }
    const key = ctx.user.apiKey;
    if (key) {
      const isRoute = (name: string) => ctx.deps.providers.route(name) !== undefined;
      const refusal = keyRefusal(key, { scope: meta?.keyScope, models: meta?.metered ? modelsAsked(input, isRoute) : undefined });
      if (refusal) throw toTRPCError(new AppError("FORBIDDEN", refusal));
    }
    if (meta?.metered) {
      // The user's budget applies to every metered call; a key adds its own budget and rate limit.
      const limit = await ctx.deps.keys.admit(ctx.user.id, key, ctx.req.scope).catch((error: unknown) => {
        throw toTRPCError(error);
      });
      if (limit) for (const [name, value] of Object.entries(rateLimitHeaders(limit))) ctx.req.setHeader(name, value);
    }
    return next({ ctx: { ...ctx, user: ctx.user } });
  });
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = baseProcedure;
export const userProcedure = requireRole("USER");
export const adminProcedure = requireRole("ADMIN");
export const superAdminProcedure = requireRole("SUPERADMIN");
