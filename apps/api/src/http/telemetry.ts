/**
 * Per-request telemetry: opens the request scope (infra/request-scope.ts), sets
 * `x-switchboard-overhead-ms` on every gateway response just before its headers leave
 * (hijacked SSE responses included), and when the response closes writes the one access-log
 * line and the request's metrics. Registered first, so requests refused by later hooks (an
 * emergency freeze) are counted and logged too.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { newScope, overheadMs, preUpstreamMs, type RequestScope } from "../infra/request-scope.ts";
import { errorCodeOf } from "./error-map.ts";
import type {} from "../trpc/request-decorations.ts";
import { logScope } from "./scope-log.ts";

export const OVERHEAD_HEADER = "x-switchboard-overhead-ms";

const round = (ms: number) => Math.round(ms * 100) / 100;

/** chat.* and consensus.* procedures: logged and measured as gateway calls, whatever the transport. */
export const isGatewayProcedure = (p: string) => p.startsWith("chat.") || p.startsWith("consensus.");

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

type TelemetryDeps = Pick<AppDeps, "metrics" | "requestLog">;

/** Registered on the root instance, before any other hook or route. */
export function registerTelemetry(app: FastifyInstance, deps: TelemetryDeps): void {
  app.decorateRequest("scope", undefined);
  if (deps.requestLog.storeBodies) {
    app.addHook("onSend", (request, _reply, payload, done) => {
      const { scope } = request;
      if (scope && typeof payload === "string") scope.responseBody = payload;
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
  try {
    const durationMs = performance.now() - scope.startedAt;
    const status = reply.raw.statusCode;
    const completed = reply.raw.writableFinished;
    const route = request.routeOptions?.url ?? "unmatched";
    const errorCode = status >= 400 ? (scope.errorCode ?? errorCodeOf(status)) : scope.errorCode;
    deps.metrics.recordHttp(request.method, route, status, durationMs);

    let overhead: number | undefined;
    if (scope.gateway) {
      if (scope.stream) deps.metrics.streamClosed();
      overhead = scope.stream ? (preUpstreamMs(scope) ?? headerOverhead) : (headerOverhead ?? overheadMs(scope));
      deps.metrics.recordRequest(path.startsWith("/v1/") ? "openai" : "trpc", {
        durationMs,
        overheadMs: overhead,
        errorCode,
        clientClosed: !completed && errorCode === undefined,
        at: Date.now(),
      });
    }

    // The request-log row (written in batches by the request log; nothing here waits).
    if (scope.gateway || scope.procedures.some(isGatewayProcedure)) {
      logScope(deps.requestLog, scope, {
        method: request.method,
        route: path.startsWith("/trpc/") && scope.procedures.length > 0 ? scope.procedures.join(",") : route,
        status,
        errorCode,
        durationMs,
        ip: request.ip,
        ...(deps.requestLog.storeBodies ? { requestBody: request.body !== undefined ? JSON.stringify(request.body) : queryOf(request.url) } : {}),
      });
    }

    const last = scope.calls.at(-1);
    const outcome = errorCode ?? (completed ? "success" : "client_closed");
    const fields = {
      method: request.method,
      route,
      url: path,
      ...(scope.procedures.length > 0 ? { procedure: scope.procedures.join(",") } : {}),
      userId: scope.userId ?? null,
      status,
      outcome,
      ms: round(durationMs),
      ...(overhead !== undefined ? { overheadMs: round(overhead) } : {}),
      ...(last ? { provider: last.provider, providerOutcome: last.outcome, upstreamCalls: scope.calls.length } : {}),
      ...(scope.stream ? { stream: true } : {}),
    };
    if (status >= 500) request.log.warn(fields, "request");
    else request.log.info(fields, "request");
  } catch (err) {
    request.log.error({ err }, "request telemetry failed");
  }
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
