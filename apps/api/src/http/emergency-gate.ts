import type {} from "@fastify/cookie";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import { resolveUser } from "../trpc/context.ts";
import { ACCESS_COOKIE, readAccessToken } from "../trpc/cookies.ts";
import "./route-features.ts";

/**
 * Refuses a request while a freeze stops the feature its matched route declares (503
 * EMERGENCY_STOP, thrown so each surface answers in its own dialect). Runs after routing, so
 * the decision is about the route that would run, whatever the URL looked like. Unmatched
 * URLs reach no feature (404); /trpc is gated per procedure by the procedures' meta.
 */
export function registerEmergencyGate(app: FastifyInstance, deps: AppDeps): void {
  app.addHook("onRequest", async (request) => {
    if (request.is404) return;
    const feature = request.routeOptions.config.feature ?? "admin";
    if (feature === "procedures") return;
    let refusal = deps.emergency.check({ kind: "feature", feature, role: null });
    if (refusal && deps.emergency.check({ kind: "feature", feature, role: "SUPERADMIN" }) === null) {
      // The caller's role decides (admin-read during a global freeze): resolve it only now.
      const token = readAccessToken(request.headers.authorization, request.cookies?.[ACCESS_COOKIE]);
      const user = await resolveUser(deps, token);
      refusal = deps.emergency.check({ kind: "feature", feature, role: user?.role ?? null });
    }
    if (refusal) throw refusal;
  });
}
