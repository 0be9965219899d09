import type { FastifyReply, FastifyRequest } from "fastify";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/**
 * For a request no route matched: when the path exists under other methods (TRACE on a
 * procedure, DELETE on /health, POST on one of the admin's pages), answers 405 with the
 * Allow header and returns true. `catchAllMethods` are those a catch-all answers at this
 * path (the admin's files and pages: GET, HEAD), which the route table cannot tell.
 */
export function sendMethodNotAllowed(request: FastifyRequest, reply: FastifyReply, catchAllMethods: readonly string[] = []): boolean {
  const path = request.url.split("?")[0] ?? request.url;
  // A catch-all (the SPA's files) says nothing about this path by itself; a route for this
  // very method means the route itself answered "not found".
  const serves = (method: string) => {
    if (catchAllMethods.includes(method)) return true;
    const found = request.server.findRoute({ method, url: path });
    return found !== null && (found.params as Record<string, unknown>)["*"] === undefined;
  };
  if (serves(request.method)) return false;
  const allow = METHODS.filter((method) => method !== request.method && serves(method));
  if (allow.length === 0) return false;
  void reply
    .status(405)
    .header("allow", allow.join(", "))
    .send({ error: { code: "METHOD_NOT_ALLOWED", message: `${request.method} is not allowed here; use ${allow.join(", ")}` } });
  return true;
}
