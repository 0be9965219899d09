/**
 * Per-request telemetry: opens the request scope (infra/request-scope.ts), sets
 * `x-switchboard-overhead-ms` on every gateway response just before its headers leave
 * (hijacked SSE responses included), and when the response closes ends the scope: the
 * request's metrics, request-log row and one access-log line (scope-log.ts). When the request
 * log keeps bodies, it also keeps the response body as sent. Registered first, so requests
 * refused by later hooks (an emergency freeze) are counted and logged too.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { newScope, overheadMs, type RequestScope } from "../infra/request-scope.ts";
import { whenResponseClosed } from "../infra/response-closed.ts";
import { loggedBodyText, MAX_BODY_CHARS } from "../services/request-log/index.ts";
import type {} from "../trpc/request-decorations.ts";
import { arrivedAsUpgrade } from "./arrived-as-upgrade.ts";
import { endScope, isGatewayProcedure, isLogged, round } from "./scope-log.ts";

export const OVERHEAD_HEADER = "x-switchboard-overhead-ms";

/** A WebSocket handshake's status: `ws` answered it, and the socket ran its course. */
const SWITCHING_PROTOCOLS = 101;

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
      if (!scope || !isLogged(scope)) return done(null, payload);
      if (typeof payload === "string") scope.responseBody = payload;
      else if (isFetchResponse(payload)) return done(null, keepJsonBody(scope, payload));
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
    whenResponseClosed(reply.raw, () => finish(deps, request, reply, scope, path, headerOverhead));
    done();
  });
}

function finish(deps: TelemetryDeps, request: FastifyRequest, reply: FastifyReply, scope: RequestScope, path: string, headerOverhead: number | undefined): void {
  if (scope.gateway && scope.stream) deps.metrics.streamClosed();
  const route = request.routeOptions?.url ?? "unmatched";
  // A handshake handed to a socket is given a stand-in response that is never written and
  // "closes" with the socket: it is no client leaving, and each call over the socket is
  // recorded on its own (ws/socket-turn.ts). Refused over HTTP instead, it keeps its status.
  const socket = arrivedAsUpgrade(request) && !reply.raw.headersSent;
  endScope(deps, request.log, scope, {
    method: request.method,
    route,
    rowRoute: path.startsWith("/trpc/") && scope.procedures.length > 0 ? scope.procedures.join(",") : route,
    url: path,
    surface: path.startsWith("/v1/") ? "openai" : "trpc",
    status: socket ? SWITCHING_PROTOCOLS : reply.raw.statusCode,
    completed: socket || reply.raw.writableFinished,
    headersSent: reply.raw.headersSent,
    headerOverheadMs: headerOverhead,
    ip: request.ip,
    requestBody: () => bodyOf(request),
  });
}

/**
 * The body as the client sent it: /trpc keeps the JSON text for tRPC to parse (at most 1 MB),
 * other routes parse it, and their large media is left out (request-log/logged-body.ts).
 */
function bodyOf(request: FastifyRequest): string | undefined {
  if (typeof request.body === "string") return request.body;
  return request.body !== undefined ? loggedBodyText(request.body) : queryOf(request.url);
}

/** Checked as Fastify checks it, so a Response from another realm counts too. */
const isFetchResponse = (payload: unknown): payload is Response => Object.prototype.toString.call(payload) === "[object Response]";

/**
 * tRPC's Fastify adapter answers with a fetch Response, whose body is a stream: its JSON is
 * kept as it passes to the client, up to what the log stores. Event streams are left alone:
 * their body is the answer they add up to (trpc/telemetry.ts).
 */
function keepJsonBody(scope: RequestScope, payload: Response): Response {
  if (!payload.body || !String(payload.headers.get("content-type")).startsWith("application/json")) return payload;
  const decoder = new TextDecoder();
  let text = "";
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (text.length < MAX_BODY_CHARS) text += decoder.decode(chunk, { stream: true });
      controller.enqueue(chunk);
    },
    flush() {
      if (text.length < MAX_BODY_CHARS) text += decoder.decode();
    },
  });
  const kept = new Response(payload.body.pipeThrough(tap), { status: payload.status, statusText: payload.statusText, headers: payload.headers });
  scope.responseBody = () => text || undefined;
  return kept;
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
