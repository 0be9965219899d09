/**
 * The end of a request scope, for every transport that runs gateway calls: an HTTP request
 * (telemetry.ts) or a call over a WebSocket (ws/socket-turn.ts), and for HTTP refused before
 * Fastify made a request of it (client-errors.ts). One function records the request's
 * metrics, its request-log row and its one access-log line, so a call is counted and logged
 * alike whichever way it came. The scope says who asked, for which model, the upstream calls
 * and the response body; the transport adds what only it knows.
 */
import { performance } from "node:perf_hooks";
import type { AppDeps } from "../deps.ts";
import { afterCalls, newScope, overheadMs, preUpstreamMs, rowTags, settleBudgetHolds, type RequestScope } from "../infra/request-scope.ts";
import type { Surface } from "../services/metrics/prometheus.ts";
import { errorCodeOf } from "./error-map.ts";

/** chat.* and consensus.* procedures: logged and measured as gateway calls, whatever the transport. */
export const isGatewayProcedure = (p: string) => p.startsWith("chat.") || p.startsWith("consensus.");

/** A request that gets a request-log row: a gateway call, or a route that ran one (legacy routes). */
export const isLogged = (scope: RequestScope) => scope.gateway || scope.procedures.some(isGatewayProcedure);

export const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * The status recorded for a request whose client left before its whole response was sent and
 * that no error ended (outcome `client_closed`): nginx's "client closed request", what
 * operators grep access logs for. The access-log line, the HTTP metrics and the request-log
 * row all say it, whatever the response had begun with (a stream's 200); the client, gone, is
 * sent nothing.
 */
export const CLIENT_CLOSED_STATUS = 499;

/** Where the access-log line goes: the request's logger, which names the request id. */
export interface LineLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface ScopeEnd {
  /** The HTTP method, or WS for a call over a WebSocket. */
  method: string;
  /** The route pattern (`/trpc/:path`, never a URL): a metrics label and the line's route. */
  route: string;
  /** The route the request-log row shows (a tRPC call's procedures); `route` when not given. */
  rowRoute?: string | undefined;
  /** The path the client called; absent for a request refused before its path was read. */
  url?: string | undefined;
  /** The gateway metrics' `surface` label. */
  surface: Surface;
  /** The status the response has, sent or not. */
  status: number;
  /** False when the client left before the whole response was sent. */
  completed: boolean;
  /** True when the status line had been sent (a stream the client left mid-way). */
  headersSent?: boolean | undefined;
  /** The overhead the response's headers carried, when they were sent before the end. */
  headerOverheadMs?: number | undefined;
  ip: string | undefined;
  /** Read only when the log keeps bodies (so nothing is serialized otherwise). */
  requestBody: () => string | undefined;
}

type EndDeps = Pick<AppDeps, "metrics" | "requestLog">;

export function endScope(deps: EndDeps, log: LineLog, scope: RequestScope, end: ScopeEnd): void {
  // The request lasted until its response closed, even when its record waits for a call.
  const durationMs = performance.now() - scope.startedAt;
  afterCalls(scope, () => recordEnd(deps, log, scope, end, durationMs));
}

function recordEnd(deps: EndDeps, log: LineLog, scope: RequestScope, end: ScopeEnd, durationMs: number): void {
  let costUsd = 0;
  try {
    const errorCode = end.status >= 400 ? (scope.errorCode ?? errorCodeOf(end.status)) : scope.errorCode;
    const clientClosed = !end.completed && errorCode === undefined;
    const status = clientClosed ? CLIENT_CLOSED_STATUS : end.status;
    deps.metrics.recordHttp(end.method, end.route, status, durationMs);

    // What the response cache did counts for requests that were answered: a miss whose
    // provider then failed answered nothing, a hit the client left saved nothing.
    const cacheCounts = errorCode === undefined && end.completed;
    const cacheSavedUsd = cacheCounts ? scope.cacheSavedUsd : 0;
    let overhead: number | undefined;
    if (scope.gateway) {
      // A stream's overhead is Switchboard's time before upstream; what follows is upstream's pace.
      overhead = scope.stream ? (preUpstreamMs(scope) ?? end.headerOverheadMs ?? overheadMs(scope)) : (end.headerOverheadMs ?? overheadMs(scope));
      deps.metrics.recordRequest(end.surface, {
        durationMs,
        overheadMs: overhead,
        errorCode,
        cacheResult: cacheCounts ? scope.cacheResult : undefined,
        cacheSavedUsd,
        clientClosed,
        at: Date.now(),
      });
    }

    // The request-log row (written in batches by the request log; nothing here waits).
    if (isLogged(scope)) costUsd = logRow(deps, scope, end, { status, errorCode, durationMs, cacheSavedUsd });

    const last = scope.calls.at(-1);
    const fields = {
      method: end.method,
      route: end.route,
      ...(end.url !== undefined ? { url: end.url } : {}),
      ...(scope.procedures.length > 0 ? { procedure: scope.procedures.join(",") } : {}),
      userId: scope.userId ?? null,
      status,
      // A stream's 200 had gone out before its client left.
      ...(clientClosed && end.headersSent ? { sentStatus: end.status } : {}),
      outcome: errorCode ?? (clientClosed ? "client_closed" : "success"),
      ms: round(durationMs),
      ...(overhead !== undefined ? { overheadMs: round(overhead) } : {}),
      ...(last ? { provider: last.provider, providerOutcome: last.outcome, upstreamCalls: scope.calls.length } : {}),
      ...(scope.stream ? { stream: true } : {}),
    };
    if (status >= 500) log.warn(fields, "request");
    else log.info(fields, "request");
  } catch (err) {
    log.error({ err }, "request telemetry failed");
  } finally {
    // Whatever failed above, the budgets this request held get their places back.
    settleBudgetHolds(scope, costUsd);
  }
}

/**
 * The route label and access-log route of HTTP answered before routing: one fixed value, so
 * no garbled request line can mint a metrics series.
 */
const UNPARSED_ROUTE = "unparsed";

/** The method label of a request whose method the parser never read. */
export const UNKNOWN_METHOD = "UNKNOWN";

/** What is known of a request refused before Fastify made a request of it. */
export interface Refused {
  requestId: string;
  /** UNKNOWN unless the parser read the method, which then is one of its fixed set. */
  method: string;
  /** The status the client was sent. */
  status: number;
}

/**
 * Counts and logs such a refusal as any request: the HTTP metrics and one access-log line,
 * with no URL and nothing else the client sent. Its start is unknown, so its duration is the
 * time taken to answer it. It is no gateway call, so it gets no request-log row.
 */
export function endRefused(deps: EndDeps, log: LineLog, refused: Refused): void {
  endScope(deps, log, newScope(refused.requestId, false), {
    method: refused.method,
    route: UNPARSED_ROUTE,
    status: refused.status,
    completed: true,
    // Read only for gateway calls (their metrics and request-log row), which this is not.
    surface: "trpc",
    ip: undefined,
    requestBody: () => undefined,
  });
}

/** Writes the request's row; returns its cost. */
function logRow(deps: EndDeps, scope: RequestScope, end: ScopeEnd, outcome: { status: number; errorCode: string | undefined; durationMs: number; cacheSavedUsd: number }): number {
  const { status, errorCode, durationMs, cacheSavedUsd } = outcome;
  const { requestLog } = deps;
  const response = scope.responseBody;
  return requestLog.record({
    requestId: scope.requestId,
    method: end.method,
    route: end.rowRoute ?? end.route,
    userId: scope.userId,
    keyId: scope.keyId,
    model: scope.model,
    tags: rowTags(scope),
    cacheHit: scope.cacheResult === "hit",
    cacheSavedUsd,
    status,
    errorCode,
    startedAt: scope.startedAt,
    durationMs,
    stream: scope.stream,
    ip: end.ip,
    calls: scope.calls,
    budgeted: scope.budgetHolds !== undefined && scope.budgetHolds.length > 0,
    ...(requestLog.storeBodies ? { requestBody: end.requestBody(), responseBody: typeof response === "function" ? response() : response } : {}),
  });
}
