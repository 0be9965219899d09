/**
 * REST aliases of the emergency procedures, for curl and ops scripts:
 *   GET  /api/admin/emergency/status    (public)
 *   POST /api/admin/emergency/freeze    {reason, scope?, expiresInSec?}  (SuperAdmin)
 *   POST /api/admin/emergency/unfreeze  {reason?}                        (SuperAdmin)
 * They call the very same procedures through a server-side caller, so auth (Bearer or the
 * SPA cookie), validation, the emergency guard and error statuses cannot drift from tRPC.
 */
import type {} from "@fastify/cookie";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ZEmergencyChangeResult,
  ZEmergencyFreezeInput,
  ZEmergencyStatus,
  ZEmergencyUnfreezeInput,
  type TEmergencyFreezeInput,
  type TEmergencyUnfreezeInput,
} from "@switchboard/schema";
import type { AppDeps } from "../deps.ts";
import { appRouter } from "../routers/index.ts";
import { createContextInner, resolveUser } from "../trpc/context.ts";
import { ACCESS_COOKIE, readAccessToken } from "../trpc/cookies.ts";
import { errorData, toTRPCError } from "../trpc/errors.ts";
import { createCallerFactory } from "../trpc/init.ts";
import { crossOriginCookie } from "./csrf.ts";
import "./route-features.ts";

const createCaller = createCallerFactory(appRouter);
const PREFIX = "/api/admin/emergency";

type Caller = ReturnType<typeof createCaller>;

export function registerEmergencyRoutes(app: FastifyInstance, deps: AppDeps): void {
  const handle =
    (call: (caller: Caller, body: unknown) => Promise<unknown>) => async (request: FastifyRequest, reply: FastifyReply) => {
      const token = readAccessToken(request.headers.authorization, request.cookies?.[ACCESS_COOKIE]);
      const user = await resolveUser(deps, token);
      const caller = createCaller(
        createContextInner({
          deps,
          user,
          req: {
            requestId: request.id,
            ip: request.ip,
            userAgent: request.headers["user-agent"],
            crossOriginCookie: crossOriginCookie(request, deps.env.CORS_ORIGINS),
          },
        }),
      );
      try {
        return reply.send(await call(caller, request.body ?? undefined));
      } catch (error) {
        return sendProcedureError(reply, toTRPCError(error));
      }
    };

  // Each alias declares the feature of its procedure (which the caller then checks again).
  const tags = ["emergency"];
  const superAdminOnly = { 403: "Not a SuperAdmin" };
  app.get(`${PREFIX}/status`, { config: { feature: "emergency", openapi: { summary: "Whether the fleet is frozen", tags, auth: "none", response: ZEmergencyStatus } } }, handle((caller) => caller.emergency.status()));
  // Bodies are unknown JSON here; the procedures' zod inputs validate them (400 on mismatch).
  app.post(
    `${PREFIX}/freeze`,
    { config: { feature: "admin", openapi: { summary: "Freeze the fleet (SuperAdmin)", tags, auth: "bearer", body: ZEmergencyFreezeInput, response: ZEmergencyChangeResult, responses: superAdminOnly } } },
    handle((caller, body) => caller.emergency.freeze(body as TEmergencyFreezeInput)),
  );
  app.post(
    `${PREFIX}/unfreeze`,
    { config: { feature: "emergency", openapi: { summary: "Lift the freeze (SuperAdmin)", tags, auth: "bearer", body: ZEmergencyUnfreezeInput, response: ZEmergencyChangeResult, responses: superAdminOnly } } },
    handle((caller, body) => caller.emergency.unfreeze(body as TEmergencyUnfreezeInput)),
  );
}

/** Same statuses as /trpc; body in the REST shape {error:{code, message, ...details}}. */
function sendProcedureError(reply: FastifyReply, error: TRPCError): FastifyReply {
  const { appCode, zodError, retryAfterSec, ...details } = errorData(error);
  if (typeof retryAfterSec === "number") void reply.header("retry-after", String(retryAfterSec));
  const status = getHTTPStatusCodeFromError(error);
  const message = status >= 500 && appCode === "INTERNAL_SERVER_ERROR" ? "Internal error" : error.message;
  return reply.status(status).send({ error: { code: appCode, message, ...details, ...(zodError ? { issues: zodError } : {}) } });
}
