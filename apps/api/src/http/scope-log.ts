/**
 * The request-log row of a finished request scope, for every transport that runs gateway
 * calls: an HTTP request (telemetry.ts) or a call over a WebSocket (ws/socket-turn.ts). The
 * scope says who asked, for which model, the upstream calls and the response body; the
 * transport adds what only it knows.
 */
import type { RequestScope } from "../infra/request-scope.ts";
import type { RequestLogService } from "../services/request-log/index.ts";

export interface ScopeEnd {
  method: string;
  route: string;
  status: number;
  errorCode: string | undefined;
  durationMs: number;
  ip: string | undefined;
  /** Given only when the log keeps bodies (so nothing is serialized otherwise). */
  requestBody?: string | undefined;
}

export function logScope(requestLog: RequestLogService, scope: RequestScope, end: ScopeEnd): void {
  const response = scope.responseBody;
  requestLog.record({
    requestId: scope.requestId,
    method: end.method,
    route: end.route,
    userId: scope.userId,
    keyId: scope.keyId,
    model: scope.model,
    status: end.status,
    errorCode: end.errorCode,
    startedAt: scope.startedAt,
    durationMs: end.durationMs,
    stream: scope.stream,
    ip: end.ip,
    calls: scope.calls,
    ...(requestLog.storeBodies ? { requestBody: end.requestBody, responseBody: typeof response === "function" ? response() : response } : {}),
  });
}
