import { REQUEST_TAGS, ZRequestTag } from "@switchboard/schema";
import type { FastifyInstance } from "fastify";
import { AppError } from "../services/errors.ts";

/**
 * Reads the labels a caller puts on a request (`x-switchboard-tags: team:search,
 * feature=summary`, as LiteLLM's and Portkey's users tag theirs) into the request scope, for
 * its request-log row: logs and spend can then be filtered by them. A malformed header is a
 * 400 naming it before anything runs, never a silently dropped label. Operations endpoints
 * (health, readiness, metrics, the admin's files) write no row and do not read it: a probe
 * passing a client's headers along is never refused for them. A WebSocket's calls carry their
 * upgrade request's tags.
 */
export function registerRequestTags(app: FastifyInstance): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const header = request.headers[REQUEST_TAGS.header];
    if (header === undefined || request.routeOptions.config.feature === "ops") return done();
    const parsed = parseRequestTags(header);
    if (parsed instanceof AppError) return done(parsed);
    if (request.scope) request.scope.tags = parsed;
    done();
  });
}

/** The header's tags, trimmed and each once, in order; the refusal when one is malformed or there are too many. */
export function parseRequestTags(header: string | string[]): string[] | AppError {
  const refusal = (why: string) => new AppError("BAD_REQUEST", `${REQUEST_TAGS.header}: ${why}`, { details: { param: REQUEST_TAGS.header } });
  // Sent twice, Node joins the values with ", "; an array comes only from set-cookie-like headers.
  const listed = [header].flat().join(",").split(",").map((tag) => tag.trim()).filter((tag) => tag !== "");
  const tags = [...new Set(listed)];
  if (tags.length > REQUEST_TAGS.max) return refusal(`at most ${REQUEST_TAGS.max} tags a request (got ${tags.length})`);
  for (const tag of tags) {
    const checked = ZRequestTag.safeParse(tag);
    if (!checked.success) return refusal(`"${tag.slice(0, REQUEST_TAGS.maxChars)}": ${checked.error.issues[0]?.message ?? "not a tag"} (at most ${REQUEST_TAGS.maxChars} characters)`);
  }
  return tags;
}
