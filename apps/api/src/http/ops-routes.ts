import { ZHealth, ZReadiness } from "@switchboard/schema";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import { health, readiness } from "../services/health-service.ts";
import { refuseWithoutMetricsToken } from "./metrics-token.ts";
import "./route-features.ts";

/**
 * Liveness, readiness and Prometheus metrics: unauthenticated, for load balancers and
 * scrapers; /metrics asks for METRICS_TOKEN when the operator sets one.
 */
export function registerOpsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get(
    "/health",
    { config: { feature: "ops", openapi: { summary: "Liveness: the process answers", tags: ["ops"], auth: "none", response: ZHealth } } },
    async () => health(deps),
  );

  app.get(
    "/ready",
    {
      config: {
        feature: "ops",
        openapi: {
          summary: "Readiness: database and coordination answer",
          tags: ["ops"],
          auth: "none",
          response: ZReadiness,
          responses: { 503: { description: "Not ready (database down, or the instance is stopping)", schema: ZReadiness } },
        },
      },
    },
    async (_request, reply) => {
    const result = await readiness(deps);
    return reply.status(result.status === "not_ready" ? 503 : 200).send(result);
    },
  );

  app.get(
    "/metrics",
    {
      config: {
        feature: "ops",
        openapi: {
          summary: "Prometheus text exposition (switchboard_ metrics); Authorization: Bearer <METRICS_TOKEN> when the server sets one",
          tags: ["ops"],
          auth: "none",
          responseContentType: "text/plain",
          responses: { 401: "METRICS_TOKEN is set and the request does not carry it" },
        },
      },
    },
    async (request, reply) => {
    if (refuseWithoutMetricsToken(deps.env.METRICS_TOKEN, request, reply)) return reply;
    const { contentType, text } = await deps.metrics.exposition();
    return reply.type(contentType).send(text);
    },
  );
}
