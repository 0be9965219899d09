import { initTRPC, TRPCError } from "@trpc/server";
import { roleAtLeast, type TRole } from "@switchboard/schema";
import type { Feature } from "../services/emergency/policy.ts";
import { noteErrorCode, noteProcedure } from "../infra/request-scope.ts";
import type { Context } from "./context.ts";
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
  /** Runs paid upstream work even as a query or subscription (cookie callers: origin check). */
  costly?: boolean;
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
 * Every procedure runs through this: the emergency guard (503 EMERGENCY_STOP while a freeze
 * stops the procedure; it reads local state only, so it costs no I/O), then the procedure;
 * services throw AppError, clients get the mapped code.
 */
const baseProcedure = observed.use(async ({ ctx, meta, getRawInput, next }) => {
  const refusal = ctx.deps.emergency.check({ kind: "feature", feature: await featureOf(meta, getRawInput), role: ctx.user?.role ?? null });
  if (refusal) throw toTRPCError(refusal);
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

function requireRole(required: TRole) {
  return baseProcedure.meta({ requiredRole: required }).use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: GUARD_MESSAGES.unauthenticated });
    if (!roleAtLeast(ctx.user.role, required)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `${GUARD_MESSAGES.forbiddenPrefix} ${required}` });
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
