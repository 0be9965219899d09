/**
 * The REST dialect of the error table (http/error-map.ts): {error:{code, message, ...details}}
 * with the table's status and headers. Also the server-wide Fastify error handler, so a
 * malformed body on /trpc answers in tRPC's envelope, one on /v1 in OpenAI's (Anthropic's on
 * /v1/messages).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { noteErrorCode } from "../infra/request-scope.ts";
import { withRouteBodyLimit } from "./body-limits.ts";
import { describeError, errorHeaders, ERROR_TABLE, logRouteFailure, type ErrorDescription } from "./error-map.ts";
import { isAnthropicPath, sendAnthropicError } from "./anthropic/errors.ts";
import { isOpenAIPath, sendOpenAIError } from "./openai/errors.ts";

/** The REST body for a described error. */
export function restErrorBody(described: ErrorDescription): { error: Record<string, unknown> } {
  return {
    error: {
      code: described.code,
      message: described.message,
      ...described.details,
      ...(described.param !== null ? { param: described.param } : {}),
    },
  };
}

export function sendHttpError(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  if (isAnthropicPath(request.url)) return sendAnthropicError(request, reply, error);
  if (isOpenAIPath(request.url)) return sendOpenAIError(request, reply, error);
  const described = describeError(withRouteBodyLimit(request, error));
  noteErrorCode(request.scope, described.code);
  logRouteFailure(request, described, error, "unhandled error");
  void reply.headers(errorHeaders(described));
  // tRPC clients understand their own error envelope, so /trpc failures use it.
  if (request.url.startsWith("/trpc")) {
    void reply.status(described.status).send({
      error: { message: described.message, code: -32600, data: { code: ERROR_TABLE[described.code].trpc, appCode: described.code, httpStatus: described.status } },
    });
    return;
  }
  void reply.status(described.status).send(restErrorBody(described));
}
