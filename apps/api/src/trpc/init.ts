import { initTRPC, TRPCError } from "@trpc/server";
import { roleAtLeast, type TKeyScope, type TRole } from "@switchboard/schema";
import { noteErrorCode, noteModel, noteProcedure } from "../infra/request-scope.ts";
import type { Feature } from "../services/emergency/policy.ts";
import { AppError } from "../services/errors.ts";
import { keyRefusal } from "../services/keys/index.ts";
import type { Context } from "./context.ts";
import { CROSS_ORIGIN_MESSAGE } from "./cookies.ts";
import { GUARD_MESSAGES, errorData, toTRPCError } from "./errors.ts";
import { isAsyncIterable, callsModels, observeStream, procedureErrorCode } from "./telemetry.ts";

/**
 * What a procedure declares about itself; guards read it, never the procedure's name.
 * Declare with `.meta({ feature: "chat" })` on the procedure (or on a shared builder).
 */
export interface Meta {
  /** The least role that may call the procedure; read by the role-matrix test and docs. */
  requiredRole?: TRole | "PUBLIC";
  /** What a freeze sees (docs/emergency.md). Undeclared procedures count as "admin". */
  feature?: Feature;
  /**
   * For a procedure that contains a leak only with some inputs (users.update {id, disabled}):
   * true for those raw inputs, which then count as the "containment" feature.
   */
  containsLeak?: (rawInput: unknown) => boolean;
  /**
   * The API-key scope that allows the procedure ("any": every key). Without one, API keys
   * are refused (403): key management, users and the emergency stop need a signed-in person.
   */
  keyScope?: TKeyScope | "any";
  /**
   * Calls a model: counted against an API key's rate limit and budget, and its model list;
   * a cookie-authenticated call must come from an allowed origin even as a query.
   */
  metered?: boolean;
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    defaultMeta: { requiredRole: "PUBLIC", feature: "admin" },
    errorFormatter({ shape, error }) {
      const data = { ...shape.data, ...errorData(error) };
      // Stack traces never leave the server.
      delete (data as { stack?: unknown }).stack;
      return { ...shape, data };
    },
  });

/**
 * Outermost: notes the procedure and its result on the request (access log, metrics), so it
 * also sees the refusals of every guard below. Gateway streams are observed for their
 * closing `error` event.
 */
const observed = t.procedure.use(async ({ ctx, path, type, meta, next }) => {
  noteProcedure(path);
  const result = await next();
  if (!result.ok) {
    noteErrorCode(procedureErrorCode(result.error));
    ctx.deps.metrics.recordProcedure(path, type, result.error.code);
    return result;
  }
  ctx.deps.metrics.recordProcedure(path, type, "OK");
  if (type === "subscription" && callsModels(meta?.feature) && isAsyncIterable(result.data)) {
    return { ...result, data: observeStream(result.data) };
  }
  return result;
});

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
  const result = await next();
  // tRPC wraps anything that is not a TRPCError as INTERNAL_SERVER_ERROR with the original
  // as `cause`; unwrap it so an AppError keeps its meaning.
  if (!result.ok && result.error.code === "INTERNAL_SERVER_ERROR" && result.error.cause) {
    throw toTRPCError(result.error.cause);
  }
  return result;
});

async function featureOf(meta: Meta | undefined, getRawInput: () => Promise<unknown>): Promise<Feature> {
  const feature = meta?.feature ?? "admin";
  if (!meta?.containsLeak) return feature;
  // An unreadable input is no containment; the procedure's own validation reports it.
  const raw = await getRawInput().catch(() => undefined);
  return meta.containsLeak(raw) ? "containment" : feature;
}

/** The `model` a gateway procedure's input asks for ("auto" when it names none). */
async function requestedModel(getRawInput: () => Promise<unknown>): Promise<string> {
  const input = (await getRawInput().catch(() => undefined)) as { model?: unknown } | undefined;
  return typeof input?.model === "string" && input.model.length > 0 ? input.model : "auto";
}

function requireRole(required: TRole) {
  return baseProcedure.meta({ requiredRole: required }).use(async ({ ctx, meta, getRawInput, next }) => {
    if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: GUARD_MESSAGES.unauthenticated });
    if (!roleAtLeast(ctx.user.role, required)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `${GUARD_MESSAGES.forbiddenPrefix} ${required}` });
    }
    const model = meta?.metered ? await requestedModel(getRawInput) : undefined;
    if (model !== undefined) noteModel(model);
    const key = ctx.user.apiKey;
    if (key) {
      const refusal = keyRefusal(key, { scope: meta?.keyScope, model });
      if (refusal) throw toTRPCError(new AppError("FORBIDDEN", refusal));
      if (meta?.metered) {
        const limit = await ctx.deps.keys.admit(key).catch((error: unknown) => {
          throw toTRPCError(error);
        });
        if (limit) {
          ctx.req.setHeader("x-ratelimit-limit-requests", String(limit.limit));
          ctx.req.setHeader("x-ratelimit-remaining-requests", String(limit.remaining));
          ctx.req.setHeader("x-ratelimit-reset-requests", `${Math.ceil(limit.resetMs / 1000)}s`);
        }
      }
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
