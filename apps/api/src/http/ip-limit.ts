/**
 * The per-IP limit for all gateway traffic (IP_RATE_LIMIT_PER_MIN, off at 0): a fixed
 * one-minute window per client IP, counted cluster-wide in coordination, on top of the
 * per-user and per-key limits. Every HTTP request counts, and so does every call or message
 * sent over a WebSocket (a socket is one upgrade request but may carry any number of calls).
 * Probes (/health, /ready, /metrics) are never limited, so an orchestrator behind one address
 * cannot lock itself out. The client IP is `request.ip`, which follows TRUST_PROXY; an IPv6
 * client counts by its /64 (client-address.ts).
 */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../services/errors.ts";
import { addressKey } from "./client-address.ts";

const EXEMPT = new Set(["/health", "/ready", "/metrics"]);

type IpLimitDeps = Pick<AppDeps, "env" | "coordination">;

export function registerIpRateLimit(app: FastifyInstance, deps: IpLimitDeps): void {
  if (deps.env.IP_RATE_LIMIT_PER_MIN <= 0) return;
  app.addHook("onRequest", async (request) => {
    if (EXEMPT.has(request.url.split("?")[0] ?? "")) return;
    await countAgainstIpLimit(deps, request.ip);
  });
}

/** Counts one request (or socket message) from `ip`; throws TOO_MANY_REQUESTS with `retryAfterSec` past the limit. */
export async function countAgainstIpLimit(deps: IpLimitDeps, ip: string | undefined): Promise<void> {
  const perMin = deps.env.IP_RATE_LIMIT_PER_MIN;
  if (perMin <= 0 || ip === undefined) return;
  const outcome = await deps.coordination.consumeLeased(`ip:rate:${addressKey(ip)}`, perMin, 60_000);
  if (!outcome.allowed) {
    throw new AppError("TOO_MANY_REQUESTS", `Too many requests from this address (limit ${perMin} per minute)`, {
      retryAfterSec: Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)),
    });
  }
}
