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
  // A callback hook: the common case (nothing frozen) decides synchronously, without a promise.
  app.addHook("onRequest", (request, _reply, done) => {
    if (request.is404) return done();
    const feature = request.routeOptions.config.feature ?? "admin";
    if (feature === "procedures") return done();
    const refusal = deps.emergency.check({ kind: "feature", feature, role: null });
    if (!refusal) return done();
    if (deps.emergency.check({ kind: "feature", feature, role: "SUPERADMIN" }) !== null) return done(refusal);
    // The caller's role decides (admin-read during a global freeze): resolve it only now.
    const token = readAccessToken(request.headers.authorization, request.cookies?.[ACCESS_COOKIE]);
    resolveUser(deps, token, request.scope).then(
      (user) => done(deps.emergency.check({ kind: "feature", feature, role: user?.role ?? null }) ?? undefined),
      (error: unknown) => done(error as Error),
    );
  });
}
