import { randomUUID } from "node:crypto";
import fastifyCookie from "@fastify/cookie";
import fastifyCors from "@fastify/cors";
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { AppDeps } from "./deps.ts";
import { registerEmergencyGuard, registerEmergencyRoutes } from "./http/emergency-routes.ts";
import { sendHttpError } from "./http/errors.ts";
import { registerIpRateLimit } from "./http/ip-limit.ts";
import { registerLegacyRoutes } from "./http/legacy/index.ts";
import { registerOpenApi } from "./http/openapi.ts";
import { registerOpenAIRoutes } from "./http/openai/routes.ts";
import { registerSsoRoutes } from "./http/sso/index.ts";
import { registerWebSockets } from "./http/ws/index.ts";
import { registerOpsRoutes } from "./http/ops-routes.ts";
import { registerTelemetry } from "./http/telemetry.ts";
import { registerTextHygiene } from "./http/text-hygiene.ts";
import { recordRoutes } from "./http/route-catalogue.ts";
import { defaultAdminDistDir, registerSpa } from "./http/spa.ts";
import { appRouter, type AppRouter } from "./routers/index.ts";
import { createContextFactory } from "./trpc/context.ts";
import { procedureErrorHeaders } from "./trpc/errors.ts";

/** What an incoming x-request-id may look like: printable, no spaces, at most 128 characters. */
const REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/** Requests larger than this are refused with 413 before any parsing. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

const ssoNames = (deps: AppDeps) =>
  Object.entries(deps.sso.methods())
    .filter(([name, on]) => on && name !== "password")
    .map(([name]) => name);

/** Builds the Fastify app: tRPC at /trpc, ops endpoints, REST aliases and the admin SPA. */
export async function buildServer(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    // Fastify's logger type is narrower than pino's; the instance is the same pino logger.
    loggerInstance: deps.log as unknown as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    // One access-log line per request comes from the telemetry hooks below instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Long procedure batches and SSE resume ids travel in the URL.
    routerOptions: { maxParamLength: 5000 },
    // A caller's own x-request-id is kept when it is a sane token, so one id follows a
    // request through the caller's logs and ours; otherwise a fresh one is made.
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
  });
  // Before any route: the server's own route list, for tools that must cover every route.
  recordRoutes(app);
  app.setErrorHandler((error: Error, request, reply) => sendHttpError(request, reply, error));
  // Before any route: GET /openapi.json is built from the routes registered after this.
  registerOpenApi(app, { version: deps.version });
  // First hook: the request scope, overhead header, access log and metrics (no I/O). It sees
  // every request, including those the emergency guard refuses.
  registerTelemetry(app, deps);
  // Then the per-IP limit (when configured): the cheapest refusal of a flood.
  registerIpRateLimit(app, deps);
  // Then a frozen fleet refuses /v1 and /api before any other work is done.
  registerEmergencyGuard(app, deps);
  registerTextHygiene(app);

  await app.register(fastifyCookie);
  if (deps.env.CORS_ORIGINS.length > 0) {
    await app.register(fastifyCors, {
      origin: deps.env.CORS_ORIGINS,
      credentials: true,
      // Browser clients on other origins may read these; everything else stays hidden.
      exposedHeaders: ["x-switchboard-overhead-ms", "retry-after", "x-request-id", "x-should-retry", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"],
    });
  }

  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: {
      router: appRouter,
      createContext: createContextFactory(deps),
      // Queries may also be POSTed: clients send long inputs (prompts) in the body, not the URL.
      allowMethodOverride: true,
      responseMeta({ errors }) {
        // API answers are per-caller and some runs are paid: nothing may be cached.
        const headers: Record<string, string> = { "cache-control": "no-store" };
        return { headers: { ...headers, ...procedureErrorHeaders(errors) } };
      },
      onError({ error, path }) {
        if (error.code === "INTERNAL_SERVER_ERROR") deps.log.error({ err: error.cause ?? error, path }, "procedure failed");
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });

  registerOpsRoutes(app, deps);
  await registerOpenAIRoutes(app, deps);
  registerEmergencyRoutes(app, deps);
  const sockets = await registerWebSockets(app, deps);
  registerLegacyRoutes(app, deps, { sockets: sockets.openCount, sso: () => ssoNames(deps) });
  registerSsoRoutes(app, deps);
  await registerSpa(app, deps.env.ADMIN_DIST_DIR ?? defaultAdminDistDir());
  return app;
}
