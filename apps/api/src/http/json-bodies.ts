/**
 * How request bodies are read: JSON in UTF-8, or not at all. Types without a parser are a 415
 * unread (Fastify's own check); this adds what Fastify would otherwise take on trust:
 * - text/plain: Fastify reads it by default, so a JSON object sent as text/plain reached a
 *   /v1 or REST route as a string and came back as a 400 about the body's shape;
 * - a content coding (`Content-Encoding: gzip`) or a charset other than UTF-8: the bytes
 *   were read as UTF-8 text and refused as "Malformed JSON body".
 * Each is a 415 that says what to send instead. And a DELETE (or another method that takes no
 * body) sent with `Content-Type: application/json` and nothing after it — what clients set up
 * to send JSON headers on every request do — has no body, instead of a 400 for an empty one.
 */
import { jsonTextMayHoldFlaw } from "@switchboard/schema";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../services/errors.ts";
import { BODY_LIMIT_BYTES } from "./body-limits.ts";

/** Methods whose requests carry no body a route reads. */
const BODYLESS_METHODS = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

/** Why the body cannot be read as sent (a 415), or null. */
export function unreadableBody(request: FastifyRequest): AppError | null {
  const coding = request.headers["content-encoding"]?.trim().toLowerCase();
  if (coding && coding !== "identity") {
    return new AppError("UNSUPPORTED_MEDIA_TYPE", `Content-Encoding ${coding} is not supported; send the body uncompressed`);
  }
  const charset = charsetOf(request.headers["content-type"] ?? "");
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    return new AppError("UNSUPPORTED_MEDIA_TYPE", `charset=${charset} is not supported; send JSON in UTF-8`);
  }
  return null;
}

/** One `; name=value` parameter of a media type, the value a token or a quoted string. */
const PARAMETER = /;\s*([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]*)\s*/gy;

/**
 * The charset a Content-Type names (lower case, unquoted), or undefined. Its parameters are
 * read in turn, so a quoted value of another one (`foo="x;charset=latin1"`) is that value;
 * a malformed rest ends the reading, as Fastify's own parser of the type ignores it.
 */
export function charsetOf(contentType: string): string | undefined {
  PARAMETER.lastIndex = contentType.search(/;|$/);
  let charset: string | undefined;
  for (let m = PARAMETER.exec(contentType); m; m = PARAMETER.exec(contentType)) {
    if (m[1]!.toLowerCase() !== "charset" || charset !== undefined) continue;
    const value = m[2]!;
    charset = (value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value).toLowerCase();
  }
  return charset;
}

/**
 * Parsed bodies whose text was read clean of what text hygiene refuses (text-hygiene.ts), so
 * the walk over every parsed value is skipped for them: one pass over the text costs a
 * fraction of it. Keyed by the parsed object, which handlers read and never replace.
 */
const cleanBodies = new WeakSet<object>();

/** True when a body was parsed from text holding no NUL, half pair or nesting too deep. */
export const bodyReadClean = (body: unknown): boolean => typeof body === "object" && body !== null && cleanBodies.has(body);

/** True for `Content-Type: application/json` and no body on a method that takes none. */
const noBody = (request: FastifyRequest, body: string) => body === "" && BODYLESS_METHODS.has(request.method);

/**
 * The app's parsers, before any route or plugin is registered (they inherit them): JSON
 * through Fastify's own parser (prototype poisoning refused), behind the checks above; no
 * text/plain.
 */
export function registerJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const refused = unreadableBody(request);
    if (refused) return done(refused, undefined);
    // parseAs "string": the body is always text here.
    const text = body as string;
    if (noBody(request, text)) return done(null, undefined);
    parseJson(request, text, (error, parsed: unknown) => {
      if (!error && typeof parsed === "object" && parsed !== null && !jsonTextMayHoldFlaw(text)) cleanBodies.add(parsed);
      done(error, parsed);
    });
  });
}

/**
 * Only JSON (or nothing) reaches a scope, passed on as the text it arrived as (tRPC parses
 * it): every other type, multipart and octet-stream included, is a 415 whatever its size,
 * and nothing but this parser ever reads a body here.
 */
export function acceptOnlyJson(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("application/json", { parseAs: "string", bodyLimit: BODY_LIMIT_BYTES }, (request, body, done) => {
    const refused = unreadableBody(request);
    if (refused) return done(refused, undefined);
    done(null, body);
  });
}
