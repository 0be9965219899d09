/**
 * How a Fastify route declares what it belongs to. The emergency gate reads the declaration
 * of the route that matched, after routing, so no spelling of the URL (percent-encoding,
 * case, dot segments, doubled slashes) reaches a feature without its gate.
 *
 *   app.get("/health", { config: { feature: "ops" } }, handler)       // one route
 *   declareFeature(scope, "gateway")                                   // every route in a plugin
 *
 * A route that declares nothing counts as "admin": stopped by a global freeze.
 */
import type { FastifyInstance } from "fastify";
import type { Feature } from "../services/emergency/policy.ts";

/** "procedures": the tRPC endpoint, where each procedure declares its own feature (meta). */
export type RouteFeature = Feature | "procedures";

declare module "fastify" {
  interface FastifyContextConfig {
    /** What the emergency gate sees (docs/emergency.md). */
    feature?: RouteFeature;
  }
}

/** The feature of every route later registered in `scope` (and its children) that names none. */
export function declareFeature(scope: FastifyInstance, feature: RouteFeature): void {
  scope.addHook("onRoute", (route) => {
    route.config = { ...route.config, feature: route.config?.feature ?? feature };
  });
}

/**
 * Remembers every route registered from now on; the returned function lists those that
 * declare no feature (read it once the app is ready: plugins' own onRoute hooks run later
 * on the same route options).
 */
export function trackUndeclaredRoutes(app: FastifyInstance): () => string[] {
  const routes: Array<{ method: unknown; url: string; config?: { feature?: RouteFeature } }> = [];
  app.addHook("onRoute", (route) => void routes.push(route));
  return () => routes.filter((r) => !r.config?.feature).map((r) => `${String(r.method)} ${r.url}`);
}
