/**
 * REST aliases of the emergency procedures, for curl and ops scripts:
 *   GET  /api/admin/emergency/status    (public)
 *   POST /api/admin/emergency/freeze    {reason, scope?, expiresInSec?}  (SuperAdmin)
 *   POST /api/admin/emergency/unfreeze  {reason?}                        (SuperAdmin)
 * They call the very same procedures through a server-side caller, so auth (Bearer or the
 * SPA cookie), validation, the emergency guard and error statuses cannot drift from tRPC.
 */
import type { FastifyInstance } from "fastify";
import {
  ZEmergencyChangeResult,
  ZEmergencyFreezeInput,
  ZEmergencyStatus,
  ZEmergencyUnfreezeInput,
  type TEmergencyFreezeInput,
  type TEmergencyUnfreezeInput,
} from "@switchboard/schema";
import type { AppDeps } from "../deps.ts";
import { procedureRoute, type Caller } from "./procedure-caller.ts";
import "./route-features.ts";

const PREFIX = "/api/admin/emergency";

export function registerEmergencyRoutes(app: FastifyInstance, deps: AppDeps): void {
  const handle = (call: (caller: Caller, body: unknown) => Promise<unknown>) =>
    procedureRoute(deps, (caller, request) => call(caller, request.body ?? undefined));

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
