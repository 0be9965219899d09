/**
 * tRPC over HTTP at /trpc: GET for queries and subscriptions, POST for everything (queries
 * too, for long inputs). Mounted on our own routes rather than tRPC's Fastify plugin, which
 * answers every method and passes multipart bodies through unread by any limit: here a body
 * is JSON of at most 1 MB or it is refused before tRPC sees it.
 */
import { fastifyRequestHandler, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import type { FastifyInstance } from "fastify";
import type { AppRouter } from "../routers/index.ts";
import { acceptOnlyJson } from "./body-limits.ts";
import { declareFeature } from "./route-features.ts";

export async function registerTrpcEndpoint(
  app: FastifyInstance,
  trpcOptions: FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
): Promise<void> {
  await app.register(
    async (scope) => {
      // Each procedure declares its feature in its meta; the procedure middleware gates it.
      declareFeature(scope, "procedures");
      acceptOnlyJson(scope);
      scope.route<{ Params: { path: string } }>({
        method: ["GET", "POST"],
        url: "/:path",
        handler: async (req, res) => {
          await fastifyRequestHandler({ ...trpcOptions, req, res, path: req.params.path });
        },
      });
    },
    { prefix: "/trpc" },
  );
}
