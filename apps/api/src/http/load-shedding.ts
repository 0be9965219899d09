/**
 * Overload protection: at most MAX_IN_FLIGHT_REQUESTS requests are being handled at once
 * per instance (a stream counts until it ends). Beyond that a new request is refused at
 * once with 503 + Retry-After, in the caller's dialect (the route's error handler), rather
 * than queued: under a burst the instance answers quickly and its memory stays bounded by
 * the cap instead of growing with the backlog.
 *
 * Never refused: health, readiness and metrics (the load balancer and monitoring must see
 * an overloaded or stopping instance) and the emergency stop (a freeze matters most under a
 * flood).
 */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import { whenResponseClosed } from "../infra/response-closed.ts";
import { AppError, shuttingDown } from "../services/errors.ts";

const NEVER_SHED = ["/health", "/ready", "/metrics", "/api/admin/emergency/"];

/**
 * True for a tRPC call to the emergency procedures alone: a batch names its procedures in the
 * path, comma-separated, and one that mixes in others (`emergency.status,chat.stream`) is
 * treated like them.
 */
function emergencyProceduresOnly(url: string): boolean {
  if (!url.startsWith("/trpc/emergency.")) return false;
  const end = url.indexOf("?");
  let path: string;
  try {
    // As the router reads it: an escaped comma (%2C) separates procedures too.
    path = decodeURIComponent(url.slice("/trpc/".length, end === -1 ? undefined : end));
  } catch {
    return false;
  }
  return path.split(",").every((p) => p.startsWith("emergency."));
}


export function registerLoadShedding(app: FastifyInstance, deps: Pick<AppDeps, "env" | "lifecycle">): void {
  const max = deps.env.MAX_IN_FLIGHT_REQUESTS;
  const { stopping } = deps.lifecycle;
  let inFlight = 0;
  const release = () => void inFlight--;
  app.addHook("onRequest", (request, reply, done) => {
    const url = request.url;
    for (const prefix of NEVER_SHED) if (url.startsWith(prefix)) return done();
    if (emergencyProceduresOnly(url)) return done();
    if (stopping.aborted) {
      // While the instance stops, a request arriving on a connection still open is refused
      // too (Fastify's own refusal, return503OnClosing, has no Retry-After and not the
      // caller's dialect), and keep-alive ends: the client retries on another instance.
      void reply.header("connection", "close");
      return done(shuttingDown());
    }
    if (max === 0) return done();
    if (inFlight >= max) {
      return done(
        new AppError("SERVICE_UNAVAILABLE", "The server is overloaded; retry shortly", {
          retryAfterSec: 1,
          details: { reason: "overloaded" },
        }),
      );
    }
    inFlight++;
    whenResponseClosed(reply.raw, release);
    done();
  });
}
