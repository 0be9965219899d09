import { LOG_EXPORT_HEADERS, TRPC_LIMITS } from "@switchboard/schema";
import fastifyCookie from "@fastify/cookie";
import fastifyCors from "@fastify/cors";
import type { FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { AppDeps } from "./deps.ts";
import { BODY_LIMIT_BYTES, modelInputBodyLimit, registerBodyLimit } from "./http/body-limits.ts";
import { largeBodyHolder } from "./http/large-body-holder.ts";
import { registerJsonBodies } from "./http/json-bodies.ts";
import { clientErrorHandler, registerConnectRefusal, registerExpectationRefusal } from "./http/client-errors.ts";
import { requestLogger } from "./http/request-logger.ts";
import { registerRequestTags } from "./http/request-tags.ts";
import { registerCsrfCheck } from "./http/csrf.ts";
import { registerEmergencyGate } from "./http/emergency-gate.ts";
import { registerCsvExports } from "./http/csv-exports.ts";
import { registerEmergencyRoutes } from "./http/emergency-routes.ts";
import { sendHttpError } from "./http/errors.ts";
import { registerLoadShedding } from "./http/load-shedding.ts";
import { registerIpRateLimit } from "./http/ip-limit.ts";
import { registerLegacyRoutes } from "./http/legacy/index.ts";
import { registerOpenApi } from "./http/openapi.ts";
import { registerV1Routes } from "./http/v1-routes.ts";
import { registerSsoRoutes } from "./http/sso/index.ts";
import { createChatSockets } from "./http/ws/chat-socket.ts";
import { registerWebSockets } from "./http/ws/index.ts";
import { registerOpsRoutes } from "./http/ops-routes.ts";
import { applySecurityHeaders, registerSecurityHeaders } from "./http/security-headers.ts";
import { registerTelemetry } from "./http/telemetry.ts";
import { registerUnusedConnectionClosing } from "./http/unused-connections.ts";
import { trackUndeclaredRoutes } from "./http/route-features.ts";
import { registerTextHygiene } from "./http/text-hygiene.ts";
import { recordRoutes } from "./http/route-catalogue.ts";
import { requestIdOf } from "./http/request-id.ts";
import { registerTrpcEndpoint } from "./http/trpc-endpoint.ts";
import { defaultAdminDistDir, registerSpa } from "./http/spa.ts";
import { appRouter, type AppRouter } from "./routers/index.ts";
import { createContextFactory } from "./trpc/context.ts";
import { isDatabaseUnavailable, unavailableLogLine } from "./infra/database-errors.ts";
import { appErrorOf, procedureErrorHeaders } from "./trpc/errors.ts";

export { BODY_LIMIT_BYTES };

const ssoNames = (deps: AppDeps) =>
  Object.entries(deps.sso.methods())
    .filter(([name, on]) => on && name !== "password")
    .map(([name]) => name);

/** Builds the Fastify app: tRPC at /trpc, ops endpoints, REST aliases and the admin SPA. */
export async function buildServer(deps: AppDeps): Promise<FastifyInstance> {
  // Fastify's logger type is narrower than pino's; the instance is the same pino logger.
  const log = deps.log as unknown as FastifyBaseLogger;
  const app: FastifyInstance = Fastify({
    loggerInstance: log,
    bodyLimit: BODY_LIMIT_BYTES,
    // One access-log line per request comes from the telemetry hooks below instead.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is made when first used, not for every request (http/request-logger.ts).
    childLoggerFactory: requestLogger,
    // Long procedure batches and SSE resume ids travel in the URL.
    routerOptions: { maxParamLength: 5000 },
    // A request arriving while the instance stops is refused in its caller's dialect, with
    // Retry-After (http/load-shedding.ts), not with Fastify's bare 503.
    return503OnClosing: false,
    // The client IP (limiters, logs) and scheme come from X-Forwarded-* only through the
    // proxies TRUST_PROXY names; off by default, so no client can claim another's address.
    // (A hop count is supported at run time; Fastify's typings omit the number overload.)
    trustProxy: deps.env.TRUST_PROXY as boolean | string[],
    // A request must arrive whole within this (a body trickled byte by byte is cut) ...
    requestTimeout: deps.env.REQUEST_TIMEOUT_MS,
    // ... a socket silent both ways is closed (SSE heartbeats keep streams talking) ...
    connectionTimeout: deps.env.CONNECTION_TIMEOUT_MS,
    // ... and an idle keep-alive connection is not held forever.
    keepAliveTimeout: deps.env.KEEP_ALIVE_TIMEOUT_MS,
    http: {
      // Node enforces the request deadline on a sweep (30 s apart by default, which would
      // let a trickle outlive it by that much): check every 2 s.
      connectionsCheckingInterval: 2_000,
      headersTimeout: Math.min(60_000, deps.env.REQUEST_TIMEOUT_MS),
    },
    genReqId: (req) => requestIdOf(req.headers),
    // A URL the router cannot decode (`/v1/models/%ZZ`) or with an over-long parameter is
    // refused before routing, so before every hook: without this Fastify answers in its own
    // shape (not OpenAI's on /v1 nor tRPC's on /trpc), with no request id or security headers.
    frameworkErrors: (error, request, reply) => {
      reply.raw.setHeader("x-request-id", request.id);
      applySecurityHeaders(request, reply);
      sendHttpError(request, reply, error);
    },
    // Earlier still, HTTP Node's parser cannot take (a garbled request line, oversized or
    // invalid headers, a request not whole in time) is answered on the raw socket; without
    // this, in Fastify's shape, with no request id, security headers or log line.
    clientErrorHandler: clientErrorHandler(log, deps),
  });
  // And an `Expect` the server cannot meet, which Node would answer with a bare 417.
  registerExpectationRefusal(app, deps);
  // And CONNECT (a proxy's method), whose socket Node would drop without an answer.
  registerConnectRefusal(app, deps);
  // A close (SIGTERM's included) does not wait for connections a client opened and never used.
  registerUnusedConnectionClosing(app);
  // Before any route: the server's own route list, for tools that must cover every route.
  recordRoutes(app);
  app.setErrorHandler((error: Error, request, reply) => sendHttpError(request, reply, error));
  // Before any route or plugin, which inherit the parsers: JSON in UTF-8, nothing else.
  registerJsonBodies(app);
  // Every route declares its feature (http/route-features.ts); one that forgot counts as
  // "admin" for the emergency gate, and is named here so it gets fixed.
  const undeclaredRoutes = trackUndeclaredRoutes(app);
  app.addHook("onReady", async () => {
    const undeclared = undeclaredRoutes();
    if (undeclared.length > 0) app.log.warn({ routes: undeclared }, "routes declare no feature; a global freeze stops them");
  });
  // Before any route: GET /openapi.json is built from the routes registered after this.
  registerOpenApi(app, { version: deps.version });
  // First hook: the request scope, overhead header, access log and metrics (no I/O). It sees
  // every request, including those the emergency guard refuses.
  registerTelemetry(app, deps);
  await app.register(fastifyCookie);
  // CORS before any refusal, so a browser on an allowed origin can read every error.
  if (deps.env.CORS_ORIGINS.length > 0) {
    await app.register(fastifyCors, {
      origin: deps.env.CORS_ORIGINS,
      credentials: true,
      // Browser clients on other origins may read these; everything else stays hidden.
      exposedHeaders: ["x-switchboard-overhead-ms", "x-switchboard-cache", "retry-after", "x-request-id", "x-should-retry", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", LOG_EXPORT_HEADERS.rows, LOG_EXPORT_HEADERS.truncated],
    });
  }
  // Security headers (CSP, nosniff, referrer policy, HSTS over TLS) on every answer, refusals too.
  registerSecurityHeaders(app);
  // The caller's labels for the request log (every refusal below keeps them); a malformed
  // header is a 400 before anything runs.
  registerRequestTags(app);
  // The per-IP limit (when configured): the cheapest refusal of a flood.
  registerIpRateLimit(app, deps);
  registerBodyLimit(app, {
    largestBodyLimitBytes: modelInputBodyLimit(deps.env),
    largeBodyHolder: largeBodyHolder(deps),
  });
  // Cookie sessions: state changes only from our own (or an allowed) origin.
  registerCsrfCheck(app, deps);
  // After routing: a frozen fleet refuses the features its routes declare.
  registerEmergencyGate(app, deps);
  registerTextHygiene(app);
  // Then an instance stopping, or at its in-flight cap, refuses new work at once (503 + Retry-After).
  registerLoadShedding(app, deps);

  await registerTrpcEndpoint(app, deps, {
    router: appRouter,
    createContext: createContextFactory(deps),
    // Queries may also be POSTed: clients send long inputs (prompts) in the body, not the URL.
    allowMethodOverride: true,
    maxBatchSize: TRPC_LIMITS.maxBatchSize,
    responseMeta({ errors }) {
      // API answers are per-caller and some runs are paid: nothing may be cached.
      const headers: Record<string, string> = { "cache-control": "no-store" };
      return { headers: { ...headers, ...procedureErrorHeaders(errors) } };
    },
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") deps.log.error({ err: error.cause ?? error, path }, "procedure failed");
      else if (isDatabaseUnavailable(appErrorOf(error)?.cause)) deps.log.error({ err: appErrorOf(error)?.cause, path }, unavailableLogLine(appErrorOf(error)?.cause, "procedure failed: database unavailable"));
    },
  } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"]);

  registerOpsRoutes(app, deps);
  await registerV1Routes(app, deps);
  registerEmergencyRoutes(app, deps);
  registerCsvExports(app, deps);
  const chatSockets = createChatSockets(deps);
  registerLegacyRoutes(app, deps, { sockets: chatSockets.openCount, sso: () => ssoNames(deps) });
  registerSsoRoutes(app, deps);
  await registerSpa(app, deps.env.ADMIN_DIST_DIR ?? defaultAdminDistDir());
  // Last: @fastify/websocket hands any request with an Upgrade header that reaches a route
  // registered after it to ws, which refuses all but a WebSocket handshake with a bare-text
  // 400. A plain request carrying another upgrade (curl --http2 sends `Upgrade: h2c`) got that
  // instead of its answer; the routes registered before the plugin answer it as usual.
  await registerWebSockets(app, deps, chatSockets);
  return app;
}
