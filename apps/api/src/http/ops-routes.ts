import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import { health, readiness } from "../services/health-service.ts";
import "./route-features.ts";

/** Liveness, readiness and Prometheus metrics: unauthenticated, for load balancers and scrapers. */
export function registerOpsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/health", { config: { feature: "ops" } }, async () => health(deps));

  app.get("/ready", { config: { feature: "ops" } }, async (_request, reply) => {
    const result = await readiness(deps);
    return reply.status(result.status === "not_ready" ? 503 : 200).send(result);
  });

  app.get("/metrics", { config: { feature: "ops" } }, async (_request, reply) => {
    const { contentType, text } = await deps.metrics.exposition();
    return reply.type(contentType).send(text);
  });
}
