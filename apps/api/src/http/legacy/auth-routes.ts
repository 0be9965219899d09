/** The auth server's GET /auth/verify and POST /auth/logout, over auth.me and auth.logout. */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { TRPCError } from "@trpc/server";
import { AppError } from "../../services/errors.ts";
import { REFRESH_COOKIE } from "../../trpc/cookies.ts";
import { procedureRoute } from "../procedure-caller.ts";

export function registerLegacyAuthRoutes(app: FastifyInstance, deps: AppDeps): void {
  /** 200 {valid:true, user} for a live token or session cookie; 401 otherwise. */
  app.get("/auth/verify", { config: { feature: "auth", openapi: { summary: "Verify a token or session cookie (legacy auth server)", tags: ["legacy"], auth: "bearer" } } }, procedureRoute(deps, async (caller) => ({ valid: true, user: await caller.auth.me() })));

  /**
   * Revokes the session (cluster-wide) and clears the cookies; a body may carry the refresh
   * token. Like every legacy route but the public ones, it needs a caller: a live token or
   * session cookie, or the refresh token of a session not yet ended (401 with neither).
   */
  app.post("/auth/logout", { config: { feature: "auth", openapi: { summary: "Revoke the session (legacy auth server)", tags: ["legacy"], auth: "bearer" } } }, procedureRoute(deps, async (caller, request) => {
    const body = request.body as { refreshToken?: unknown } | undefined;
    const refreshToken = typeof body?.refreshToken === "string" ? body.refreshToken : undefined;
    const presented = refreshToken ?? request.cookies[REFRESH_COOKIE];
    const signedIn = await caller.auth.me().then(
      () => true,
      (error: unknown) => {
        if (error instanceof TRPCError && error.code === "UNAUTHORIZED") return false;
        throw error; // the database unavailable, say: not the caller's fault
      },
    );
    if (!signedIn && !(presented && (await deps.auth.holdsOpenSession(presented)))) throw new AppError("UNAUTHORIZED", "Not signed in");
    return { success: true, ...(await caller.auth.logout(refreshToken ? { refreshToken } : undefined)) };
  }));
}
