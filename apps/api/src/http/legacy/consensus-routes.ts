/**
 * The consensus server's routes: POST /api/consensus/query, GET /api/consensus/models and
 * GET /api/consensus/health, over the consensus procedures.
 */
import { ZConsensusModels, type TConsensusQueryInput } from "@switchboard/schema";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { procedureRoute } from "../procedure-caller.ts";

/**
 * The old server took {prompt | query, models?, strategy?}; Switchboard's names are prompt,
 * providers and strategy (majority when none is given). Anything else passes through and is
 * validated by consensus.query. Only a missing strategy means majority: `strategy: null` is
 * refused with consensus.query's 400, as on /trpc, rather than quietly run as a majority vote.
 */
function consensusInputOf(body: unknown): TConsensusQueryInput {
  const { query, models, ...rest } = (body && typeof body === "object" && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  return {
    ...rest,
    prompt: rest["prompt"] ?? query,
    strategy: rest["strategy"] === undefined ? "majority" : rest["strategy"],
    ...(rest["providers"] === undefined && models !== undefined ? { providers: models } : {}),
  } as TConsensusQueryInput;
}

export function registerLegacyConsensusRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post(
    "/api/consensus/query",
    { config: { feature: "consensus", openapi: { summary: "Run a consensus query (legacy consensus server)", tags: ["legacy"], auth: "bearer" } } },
    procedureRoute(deps, async (caller, request) => {
      const result = await caller.consensus.query(consensusInputOf(request.body));
      // `consensus` and `answer` are the old server's names for the agreed text.
      return { ...result, consensus: result.winner.content, answer: result.winner.content };
    }),
  );

  app.get(
    "/api/consensus/models",
    { config: { feature: "consensus", openapi: { summary: "Consensus models and defaults (legacy consensus server)", tags: ["legacy"], auth: "bearer", response: ZConsensusModels } } },
    procedureRoute(deps, (caller) => caller.consensus.models()),
  );

  app.get(
    "/api/consensus/health",
    { config: { feature: "consensus", openapi: { summary: "Consensus readiness (legacy consensus server)", tags: ["legacy"], auth: "bearer" } } },
    procedureRoute(deps, async (caller) => {
      const models = await caller.consensus.models();
      return {
        status: models.defaults.providers.length > 0 ? "ok" : "degraded",
        models: models.models.length,
        providers: models.defaults.providers,
        strategies: models.strategies,
        timestamp: new Date().toISOString(),
      };
    }),
  );
}
