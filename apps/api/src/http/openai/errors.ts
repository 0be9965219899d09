/**
 * The OpenAI dialect of the error table (http/error-map.ts): {error:{message, type, param,
 * code}} so the official SDKs raise the right exception class, plus Retry-After and
 * x-should-retry (which those SDKs obey before retrying).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { noteErrorCode, type RequestScope } from "../../infra/request-scope.ts";
import { withRouteBodyLimit } from "../body-limits.ts";
import { describeError, errorHeaders, ERROR_TABLE, logRouteFailure, type ErrorDescription } from "../error-map.ts";

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** True for the OpenAI-compatible surface, whose every error is rendered in OpenAI's shape. */
export const isOpenAIPath = (url: string) => url === "/v1" || url.startsWith("/v1/") || url.startsWith("/v1?");

/**
 * An upstream's own error, when a provider refused the request (a 4xx it caused) and the
 * error is passed through: its type, param and code survive as the provider sent them.
 */
export interface UpstreamErrorFields {
  type?: unknown;
  param?: unknown;
  code?: unknown;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : typeof v === "number" ? String(v) : null);

export function openAIErrorBody(described: ErrorDescription): OpenAIErrorBody {
  const upstream = described.details["upstreamError"] as UpstreamErrorFields | undefined;
  const openaiCode = str(described.details["openaiCode"]);
  return {
    error: {
      message: described.message,
      type: str(upstream?.type) ?? ERROR_TABLE[described.code].openaiType,
      param: upstream ? str(upstream.param) : described.param,
      code: upstream ? str(upstream.code) : (openaiCode ?? described.code.toLowerCase()),
    },
  };
}

export function sendOpenAIError(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  const described = describeError(withRouteBodyLimit(request, error));
  noteErrorCode(request.scope, described.code);
  logRouteFailure(request, described, error, "openai-compatible route failed");
  void reply.headers(errorHeaders(described)).status(described.status).send(openAIErrorBody(described));
}

/**
 * A stream's break after its first event (the upstream's, or the end of the credential that
 * authorized it), as the OpenAI error body its last event carries. The request log keeps how
 * the stream broke, or the error table's code (as for a refusal).
 */
export function streamFailureBody(scope: RequestScope | undefined, error: unknown): OpenAIErrorBody {
  const described = describeError(error);
  const streamCode = described.details["streamCode"];
  noteErrorCode(scope, typeof streamCode === "string" ? streamCode : described.code);
  return openAIErrorBody(described);
}
