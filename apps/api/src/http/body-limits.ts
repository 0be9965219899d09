/**
 * Request bodies: at most 1 MB of any type, refused with 413 before a byte of it is buffered
 * (a declared Content-Length is checked on arrival; a chunked body is counted while read by
 * the route's parser). Types a route has no parser for are refused with 415 unread.
 */
import { errorCodes, type FastifyInstance } from "fastify";

export const BODY_LIMIT_BYTES = 1024 * 1024;

export function registerBodyLimit(app: FastifyInstance): void {
  app.addHook("onRequest", (request, reply, done) => {
    const declared = Number(request.headers["content-length"]);
    if (declared > BODY_LIMIT_BYTES) {
      // The rest of the body is not read: this connection cannot carry another request.
      void reply.header("connection", "close");
      return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    }
    done();
  });
}

/**
 * Only JSON (or nothing) reaches a scope: every other type, multipart and octet-stream
 * included, is a 415 whatever its size, and nothing but this parser ever reads a body here.
 */
export function acceptOnlyJson(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("application/json", { parseAs: "string", bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
    done(null, body);
  });
}
