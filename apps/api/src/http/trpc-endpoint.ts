/**
 * tRPC over HTTP at /trpc: GET for queries and subscriptions, POST for everything (queries
 * too, for long inputs). Mounted on our own routes rather than tRPC's Fastify plugin, which
 * answers every method and passes multipart bodies through unread by any limit: here a body
 * is JSON of at most 1 MB (or what the procedure declares, `bodyLimitBytes`, on its own
 * route) or it is refused before tRPC sees it.
 */
import { fastifyRequestHandler, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import type { AppRouter } from "../routers/index.ts";
import type { Meta } from "../trpc/meta.ts";
import { resolveUser } from "../trpc/context.ts";
import { ACCESS_COOKIE, readAccessToken } from "../trpc/cookies.ts";
import { acceptOnlyJson } from "./json-bodies.ts";
import { declareFeature } from "./route-features.ts";
import { holdStreamSlot } from "./stream-slots.ts";

export async function registerTrpcEndpoint(
  app: FastifyInstance,
  deps: AppDeps,
  trpcOptions: FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
): Promise<void> {
  await app.register(
    async (scope) => {
      // Each procedure declares its feature in its meta; the procedure middleware gates it.
      declareFeature(scope, "procedures");
      acceptOnlyJson(scope);
      limitOpenStreams(scope, deps, trpcOptions.router);
      const route = (url: string, path: (params: { path?: string }) => string, alone?: { meta: Meta; bodyLimit: number }) =>
        scope.route<{ Params: { path?: string } }>({
          method: ["GET", "POST"],
          url,
          // Who may send it a large body is the procedure's to say (large-body-holder.ts).
          ...(alone ? { bodyLimit: alone.bodyLimit, config: { procedureMeta: alone.meta } } : {}),
          // Fastify's automatic HEAD twin cannot measure the fetch Response tRPC answers with
          // (it was a 500); a procedure has no headers-only form, so HEAD is a 405.
          exposeHeadRoute: false,
          handler: async (req, res) => {
            await fastifyRequestHandler({ ...trpcOptions, req, res, path: path(req.params) });
          },
        });
      route("/:path", (params) => params.path ?? "");
      // A static path wins over "/:path": the procedure called alone gets its limit; in any batch
      // ("config.import,config.import" too, a path of its own), 1 MB.
      for (const [path, alone] of largeBodyProcedures(trpcOptions.router)) route(`/${path}`, () => path, alone);
    },
    { prefix: "/trpc" },
  );
}

/** The procedures that declare a body limit past the default, with it and their meta. */
function largeBodyProcedures(router: AppRouter): Array<[string, { meta: Meta; bodyLimit: number }]> {
  const procedures = router._def.procedures as unknown as Record<string, { _def: { meta?: Meta } } | undefined>;
  return Object.entries(procedures).flatMap(([path, procedure]) => {
    const meta = procedure?._def.meta;
    return meta?.bodyLimitBytes !== undefined ? [[path, { meta, bodyLimit: meta.bodyLimitBytes }] as [string, { meta: Meta; bodyLimit: number }]] : [];
  });
}

/**
 * Subscriptions take a stream slot (http/stream-slots.ts) before they start: beyond a cap, 429
 * with Retry-After; the slot is freed when the response closes, however the stream ends.
 */
function limitOpenStreams(scope: FastifyInstance, deps: AppDeps, router: AppRouter): void {
  // At run time a flat map of dotted paths to procedures (the typings describe the nesting).
  const procedures = router._def.procedures as unknown as Record<string, { _def: { type: string } } | undefined>;
  scope.addHook("preHandler", async (request, reply) => {
    const path = (request.params as { path?: string }).path ?? "";
    if (request.method !== "GET" || procedures[path]?._def.type !== "subscription") return;
    const token = readAccessToken(request.headers.authorization, request.cookies?.[ACCESS_COOKIE]);
    const user = token ? await resolveUser(deps, token, request.scope) : null;
    holdStreamSlot(deps, { user, ip: request.ip }, reply.raw);
  });
}
