/**
 * The optional scrape token of GET /metrics (METRICS_TOKEN). The exposition carries business
 * figures (spend per provider, request and error counts), so an operator whose port is
 * reachable by more than the scraper can ask for `Authorization: Bearer <token>`. Only that
 * token opens it: an access token or API key would make a user's credential a scrape
 * credential, and Prometheus holds one static secret anyway.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../services/errors.ts";
import { readAccessToken } from "../trpc/cookies.ts";
import { sendHttpError } from "./errors.ts";

/**
 * Whether the Authorization header carries the token. Both sides are hashed first, so the
 * comparison takes the same time whatever the length or the first differing byte.
 */
export function carriesMetricsToken(authorization: string | undefined, token: string): boolean {
  const presented = readAccessToken(authorization, undefined);
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(token));
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * Answers 401 with `WWW-Authenticate: Bearer` unless the request carries the token; does
 * nothing when no token is configured (the endpoint is public, as the contract has it).
 */
export function refuseWithoutMetricsToken(token: string | undefined, request: FastifyRequest, reply: FastifyReply): boolean {
  if (token === undefined || carriesMetricsToken(request.headers.authorization, token)) return false;
  void reply.header("www-authenticate", 'Bearer realm="metrics"');
  sendHttpError(request, reply, new AppError("UNAUTHORIZED", "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"));
  return true;
}
