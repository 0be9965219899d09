/**
 * The Anthropic dialect of the error table (http/error-map.ts), for /v1/messages:
 * `{"type":"error","error":{"type","message"},"request_id"}` with the table's status, so
 * Anthropic's SDKs raise the right exception class, plus Retry-After and x-should-retry
 * (which those SDKs obey before retrying). The error type follows the status, as Anthropic
 * names them; a 503 (an emergency stop, an instance at capacity) is `overloaded_error`,
 * Anthropic's word for "not now" (its own 529).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { noteErrorCode, type RequestScope } from "../../infra/request-scope.ts";
import { withRouteBodyLimit } from "../body-limits.ts";
import { describeError, errorHeaders, logRouteFailure, type ErrorDescription } from "../error-map.ts";

export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
  request_id?: string;
}

/** True for the Anthropic-shaped routes under /v1, whose every error is rendered in Anthropic's shape. */
export const isAnthropicPath = (url: string) => url === "/v1/messages" || url.startsWith("/v1/messages/") || url.startsWith("/v1/messages?");

const TYPE_BY_STATUS: Record<number, string> = {
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  503: "overloaded_error",
  529: "overloaded_error",
};

export function anthropicErrorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

export function anthropicErrorBody(described: ErrorDescription, requestId?: string): AnthropicErrorBody {
  return {
    type: "error",
    error: { type: anthropicErrorType(described.status), message: described.message },
    ...(requestId !== undefined ? { request_id: requestId } : {}),
  };
}

export function sendAnthropicError(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  const described = describeError(withRouteBodyLimit(request, error));
  noteErrorCode(request.scope, described.code);
  logRouteFailure(request, described, error, "anthropic-compatible route failed");
  // The header Anthropic's SDKs read an error's request id from (APIError.requestID), on
  // refusals outside the routes' scope too: an unknown path or method, a malformed URL.
  void reply.header("request-id", request.id);
  void reply.headers(errorHeaders(described)).status(described.status).send(anthropicErrorBody(described, request.id));
}

/**
 * A stream's break after its first event, as the `error` event's data. The request log keeps
 * how the stream broke, or the error table's code (as for a refusal).
 */
export function streamFailureEvent(scope: RequestScope | undefined, error: unknown): AnthropicErrorBody {
  const described = describeError(error);
  const streamCode = described.details["streamCode"];
  noteErrorCode(scope, typeof streamCode === "string" ? streamCode : described.code);
  return anthropicErrorBody(described);
}
