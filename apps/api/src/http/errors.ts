import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { noteErrorCode } from "../infra/request-scope.ts";
import { AppError, HTTP_STATUS_BY_APP_CODE } from "../services/errors.ts";

const FASTIFY_CODE_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "Malformed JSON body",
  FST_ERR_CTP_EMPTY_JSON_BODY: "Empty JSON body",
  FST_ERR_CTP_BODY_TOO_LARGE: "Request body too large (limit 1 MB)",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "Unsupported content type; send application/json",
};

/**
 * One error shape for every non-tRPC failure. Client errors keep their status (400, 413…);
 * only genuine server faults become 500, and their details stay in the log.
 */
export function sendHttpError(request: FastifyRequest, reply: FastifyReply, error: FastifyError | AppError | Error): void {
  if (error instanceof AppError) {
    noteErrorCode(error.code);
    if (error.retryAfterSec !== undefined) void reply.header("retry-after", String(error.retryAfterSec));
    void reply.status(HTTP_STATUS_BY_APP_CODE[error.code]).send({
      error: { code: error.code, message: error.message, ...error.details },
    });
    return;
  }
  const status = (error as FastifyError).statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err: error }, "unhandled error");
    void reply.status(500).send({ error: { code: "INTERNAL", message: "Internal error" } });
    return;
  }
  const code = (error as FastifyError).code;
  const message = (code && FASTIFY_CODE_MESSAGES[code]) ?? error.message;
  // tRPC clients understand their own error envelope, so /trpc failures use it.
  if (request.url.startsWith("/trpc")) {
    void reply.status(status).send({
      error: { message, code: -32600, data: { code: status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST", httpStatus: status } },
    });
    return;
  }
  void reply.status(status).send({ error: { code: status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST", message } });
}
