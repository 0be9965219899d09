/**
 * Status routes of the old backends: GET /api/health and /api/info (public), GET /api/stats
 * and /api/metrics (ADMIN, through metrics.summary, so the role guard is the procedure's).
 */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { serviceInfo } from "../../services/health-service.ts";
import { procedureRoute } from "../procedure-caller.ts";
import { legacyMetricsOf } from "./shapes.ts";

export interface LiveCounts {
  /** Open WebSocket connections on this instance. */
  sockets(): number;
  /** Sign-in methods configured besides the password ("oidc", "github"). */
  sso(): string[];
}

const connectionsOf = (app: FastifyInstance) =>
  new Promise<number>((resolve) => app.server.getConnections((err, count) => resolve(err ? 0 : count)));

export function registerLegacyInfoRoutes(app: FastifyInstance, deps: AppDeps, live: LiveCounts): void {
  app.get("/api/health", { config: { feature: "ops", openapi: { summary: "Health with active providers (legacy)", tags: ["legacy"], auth: "none" } } }, procedureRoute(deps, async (caller) => ({
    ...(await caller.health.check()),
    providers: deps.providers.chain().map((p) => p.id),
  })));

  app.get("/api/info", { config: { feature: "gateway", openapi: { summary: "Service information (legacy)", tags: ["legacy"], auth: "none" } } }, async (_request, reply) =>
    reply.header("cache-control", "no-store").send(serviceInfo(deps, { sso: live.sso() })),
  );

  app.get("/api/stats", { config: { feature: "admin-read", openapi: { summary: "Live counters (legacy; ADMIN)", tags: ["legacy"], auth: "bearer" } } }, procedureRoute(deps, async (caller) => {
    const summary = await caller.metrics.summary();
    const sockets = live.sockets();
    return {
      activeConnections: (await connectionsOf(app)) + sockets,
      activeWebSockets: sockets,
      activeStreams: summary.activeStreams,
      uptime: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
      requests: { total: summary.requests.total, errors: summary.requests.errors, perMinute: summary.requestsPerMinute },
      liveInstances: summary.liveInstances,
      timestamp: new Date().toISOString(),
    };
  }));

  app.get("/api/metrics", { config: { feature: "admin-read", openapi: { summary: "Per-provider call statistics (legacy; ADMIN)", tags: ["legacy"], auth: "bearer" } } }, procedureRoute(deps, async (caller) => legacyMetricsOf(await caller.metrics.summary())));
}
