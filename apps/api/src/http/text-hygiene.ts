import { findInputFlaw } from "@switchboard/schema";
import type { FastifyInstance } from "fastify";
import { AppError } from "../services/errors.ts";
import { bodyReadClean } from "./json-bodies.ts";

/**
 * Refuses NUL (U+0000) anywhere in a REST request's parsed body, query or path parameters,
 * and nesting deeper than MAX_INPUT_DEPTH, with a 400 naming the field, before any handler
 * runs: PostgreSQL cannot store NUL, recursive code (forwarding a body upstream) cannot take
 * any depth, and a late failure would come after the upstream call was paid for. tRPC procedures get the
 * same check from their base middleware (with the zod issue shape), so /trpc is left to it.
 * The error is thrown, so each surface answers in its own dialect (OpenAI shape on /v1).
 */
export function registerTextHygiene(app: FastifyInstance): void {
  app.addHook("preHandler", (request, _reply, done) => {
    if (request.routeOptions.url?.startsWith("/trpc")) return done();
    // A JSON body read clean as text is not walked again (json-bodies.ts).
    const body = bodyReadClean(request.body) ? undefined : nulRefusal("body", request.body);
    done(body ?? nulRefusal("query", request.query) ?? nulRefusal("params", request.params));
  });
}

function nulRefusal(part: "body" | "query" | "params", value: unknown): AppError | undefined {
  const flaw = findInputFlaw(value);
  return flaw ? new AppError("BAD_REQUEST", flaw.message, { details: { field: flaw.path.join("."), in: part } }) : undefined;
}
