/**
 * Per-request telemetry: opens the request scope (infra/request-scope.ts), sets
 * `x-switchboard-overhead-ms` on every gateway response just before its headers leave
 * (hijacked SSE responses included), and when the response closes ends the scope: the
 * request's metrics, request-log row and one access-log line (scope-log.ts). Registered
 * first, so requests refused by later hooks (an emergency freeze) are counted and logged too.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { newScope, overheadMs, type RequestScope } from "../infra/request-scope.ts";
import { endScope, isGatewayProcedure, isLogged, round } from "./scope-log.ts";

export const OVERHEAD_HEADER = "x-switchboard-overhead-ms";

/** /v1/*, or a /trpc call (batches included) naming a chat.* or consensus.* procedure. */
export function isGatewayPath(path: string): boolean {
  if (path.startsWith("/v1/")) return true;
  if (!path.startsWith("/trpc/")) return false;
  return path.slice("/trpc/".length).split(",").some(isGatewayProcedure);
}

/** Runs `listener` once, right before the response's headers are written, however they are. */
function beforeHeaders(res: ServerResponse, listener: (headers: OutgoingHttpHeaders | undefined) => void): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    res.writeHead = writeHead;
    try {
      listener(args.find((a): a is OutgoingHttpHeaders => a !== null && typeof a === "object" && !Array.isArray(a)));
    } catch {
      // Telemetry must never break a response.
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["writeHead"];
}

const isEventStream = (headers: OutgoingHttpHeaders | undefined, res: ServerResponse) =>
  String(headers?.["content-type"] ?? res.getHeader("content-type") ?? "").startsWith("text/event-stream");

declare module "fastify" {
  interface FastifyRequest {
    /** What the request learns about itself as it runs (infra/request-scope.ts); opened by the first hook. */
    scope: RequestScope | undefined;
  }
}

type TelemetryDeps = Pick<AppDeps, "metrics" | "requestLog">;

/** Registered on the root instance, before any other hook or route. */
export function registerTelemetry(app: FastifyInstance, deps: TelemetryDeps): void {
  app.decorateRequest("scope", undefined);
  if (deps.requestLog.storeBodies) {
    app.addHook("onSend", (request, _reply, payload, done) => {
      const { scope } = request;
      if (!scope || !isLogged(scope)) return done(null, payload);
      if (typeof payload === "string") scope.responseBody = payload;
      done(null, payload);
    });
  }
  app.addHook("onRequest", (request, reply, done) => {
    const path = request.url.split("?")[0] ?? "/";
    const scope = newScope(request.id, isGatewayPath(path));
    request.scope = scope;
    // On the raw response, so hijacked streams and early refusals carry it too.
    reply.raw.setHeader("x-request-id", request.id);
    let headerOverhead: number | undefined;
    if (scope.gateway) {
      beforeHeaders(reply.raw, (headers) => {
        headerOverhead = round(overheadMs(scope));
        reply.raw.setHeader(OVERHEAD_HEADER, String(headerOverhead));
        if (isEventStream(headers, reply.raw)) {
          scope.stream = true;
          deps.metrics.streamOpened();
        }
      });
    }
    reply.raw.once("close", () => finish(deps, request, reply, scope, path, headerOverhead));
    done();
  });
}

function finish(deps: TelemetryDeps, request: FastifyRequest, reply: FastifyReply, scope: RequestScope, path: string, headerOverhead: number | undefined): void {
  if (scope.gateway && scope.stream) deps.metrics.streamClosed();
  const route = request.routeOptions?.url ?? "unmatched";
  endScope(deps, request.log, scope, {
    method: request.method,
    route,
    rowRoute: path.startsWith("/trpc/") && scope.procedures.length > 0 ? scope.procedures.join(",") : route,
    url: path,
    surface: path.startsWith("/v1/") ? "openai" : "trpc",
    status: reply.raw.statusCode,
    completed: reply.raw.writableFinished,
    headerOverheadMs: headerOverhead,
    ip: request.ip,
    requestBody: () => (request.body !== undefined ? JSON.stringify(request.body) : queryOf(request.url)),
  });
}

function queryOf(url: string): string | undefined {
  const query = url.split("?")[1];
  if (!query) return undefined;
  try {
    return decodeURIComponent(query);
  } catch {
    return query;
  }
}
