import type { FastifyReply, FastifyRequest } from "fastify";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/**
 * For a request no route matched: when the path exists under other methods (TRACE on a
 * procedure, DELETE on /health), answers 405 with the Allow header and returns true.
 */
export function sendMethodNotAllowed(request: FastifyRequest, reply: FastifyReply): boolean {
  const path = request.url.split("?")[0] ?? request.url;
  const allow = METHODS.filter((method) => method !== request.method && request.server.findRoute({ method, url: path }) !== null);
  if (allow.length === 0) return false;
  void reply
    .status(405)
    .header("allow", allow.join(", "))
    .send({ error: { code: "METHOD_NOT_ALLOWED", message: `${request.method} is not allowed here; use ${allow.join(", ")}` } });
  return true;
}
