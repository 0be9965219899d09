/**
 * tRPC over HTTP at /trpc: GET for queries and subscriptions, POST for everything (queries
 * too, for long inputs). Mounted on our own routes rather than tRPC's Fastify plugin, which
 * answers every method and passes multipart bodies through unread by any limit: here a body
 * is JSON of at most 1 MB or it is refused before tRPC sees it.
 */
import { fastifyRequestHandler, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import type { AppRouter } from "../routers/index.ts";
import { AppError } from "../services/errors.ts";
import { resolveUser } from "../trpc/context.ts";
import { ACCESS_COOKIE, readAccessToken } from "../trpc/cookies.ts";
import { acceptOnlyJson } from "./body-limits.ts";
import { declareFeature } from "./route-features.ts";

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

/** Seconds a refused stream is told to wait: streams are long, a slot frees when one ends. */
const STREAM_RETRY_AFTER_SEC = 5;

/**
 * Subscriptions hold a socket and memory for as long as they stay open, so each takes a
 * slot: per signed-in user (STREAMS_PER_USER), per anonymous client IP (WATCH_STREAMS_PER_IP,
 * the public emergency.watch) and per instance (MAX_STREAMS). Beyond, 429 with Retry-After
 * before the stream starts; the slot is freed when the response closes, however it ends.
 */
function limitOpenStreams(scope: FastifyInstance, deps: AppDeps, router: AppRouter): void {
  // At run time a flat map of dotted paths to procedures (the typings describe the nesting).
  const procedures = router._def.procedures as unknown as Record<string, { _def: { type: string } } | undefined>;
  scope.addHook("preHandler", async (request, reply) => {
    const path = (request.params as { path?: string }).path ?? "";
    if (request.method !== "GET" || procedures[path]?._def.type !== "subscription") return;
    const token = readAccessToken(request.headers.authorization, request.cookies?.[ACCESS_COOKIE]);
    const user = token ? await resolveUser(deps, token, request.scope) : null;
    const slot = deps.streams.acquire(user ? { kind: "user", id: user.id } : { kind: "ip", ip: request.ip });
    if (!slot.ok) {
      const limit =
        slot.reason === "total"
          ? `this instance's limit of ${deps.env.MAX_STREAMS} open streams`
          : user
            ? `the limit of ${deps.env.STREAMS_PER_USER} open streams per user`
            : `the limit of ${deps.env.WATCH_STREAMS_PER_IP} open anonymous streams per address`;
      throw new AppError("TOO_MANY_REQUESTS", `Too many open streams: ${limit}; close one or retry later`, { retryAfterSec: STREAM_RETRY_AFTER_SEC });
    }
    reply.raw.once("close", slot.release);
  });
}
