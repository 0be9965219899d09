import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import { health, readiness } from "../services/health-service.ts";

/** Liveness, readiness and Prometheus metrics: unauthenticated, for load balancers and scrapers. */
export function registerOpsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/health", async () => health(deps));

  app.get("/ready", async (_request, reply) => {
    const result = await readiness(deps);
    return reply.status(result.status === "not_ready" ? 503 : 200).send(result);
  });

  app.get("/metrics", async (_request, reply) => {
    const { contentType, text } = await deps.metrics.exposition();
    return reply.type(contentType).send(text);
  });
}
