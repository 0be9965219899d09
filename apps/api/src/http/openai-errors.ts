/** Errors in OpenAI's JSON shape, {error:{message, type, code, param}}, so SDKs raise the right class. */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { noteErrorCode } from "../infra/request-scope.ts";
import { AppError, HTTP_STATUS_BY_APP_CODE } from "../services/errors.ts";

const TYPE_BY_STATUS: Record<number, string> = {
  400: "invalid_request_error",
  401: "invalid_request_error",
  403: "permission_error",
  404: "invalid_request_error",
  413: "invalid_request_error",
  415: "invalid_request_error",
  429: "rate_limit_error",
};

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

export function openAIError(status: number, message: string, code: string | null): OpenAIErrorBody {
  return { error: { message, type: TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"), code, param: null } };
}

/** Status and body for whatever a /v1 handler threw. */
export function toOpenAIError(error: unknown): { status: number; body: OpenAIErrorBody; retryAfterSec?: number } {
  if (error instanceof AppError) {
    const status = HTTP_STATUS_BY_APP_CODE[error.code];
    const code = typeof error.details["openaiCode"] === "string" ? error.details["openaiCode"] : error.code.toLowerCase();
    return { status, body: openAIError(status, error.message, code), ...(error.retryAfterSec !== undefined ? { retryAfterSec: error.retryAfterSec } : {}) };
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const message = status === 413 ? "Request body too large (limit 1 MB)" : (error as Error).message;
    return { status, body: openAIError(status, message, status === 413 ? "payload_too_large" : "invalid_request") };
  }
  return { status: 500, body: openAIError(500, "Internal error", "internal") };
}

export function sendOpenAIError(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  const mapped = toOpenAIError(error);
  if (error instanceof AppError) noteErrorCode(error.code);
  if (mapped.status >= 500 && !(error instanceof AppError)) request.log.error({ err: error }, "openai-compatible route failed");
  if (mapped.retryAfterSec !== undefined) void reply.header("retry-after", String(mapped.retryAfterSec));
  // Waiting does not help an exhausted budget: tell SDKs not to retry.
  if (error instanceof AppError && error.details["shouldRetry"] === false) void reply.header("x-should-retry", "false");
  void reply.status(mapped.status).send(mapped.body);
}
