/**
 * Request bodies: at most 1 MB of any type, unless a route declares a larger Fastify
 * `bodyLimit` (the /v1 routes that carry model input, OPENAI_MAX_BODY_MB: a photo sent as a
 * base64 data URL, a long agent history). Whatever the route's limit, a body over it is
 * refused with 413 before a byte of it is buffered (a declared Content-Length is checked on
 * arrival; a chunked body is counted while read by the route's parser). Types a route has no
 * parser for are refused with 415 unread.
 *
 * Memory stays bounded however many large bodies arrive at once: the bytes past the first MB
 * of each body draw on one pool per instance, LARGE_BODY_POOL_FACTOR times the largest
 * route limit, given back when the response closes. A body that finds the pool empty is a
 * 503 with Retry-After, like the in-flight cap (load-shedding.ts): small requests, which
 * the 1 MB limit and that cap already bound, never wait on it. Only a caller with a valid
 * credential draws on the pool (checked before the body is read, `mayHoldLargeBody`): without
 * that, anyone could hold it with a few slow uploads and refuse every signed-in photo.
 */
import type { ServerResponse } from "node:http";
import { Transform, type Readable } from "node:stream";
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Env } from "../env.ts";
import { whenResponseClosed } from "../infra/response-closed.ts";
import { AppError } from "../services/errors.ts";

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** How many bodies at the largest route limit an instance holds at once (docs/security.md). */
export const LARGE_BODY_POOL_FACTOR = 4;

/** The limit the /v1 routes carrying model input declare; the largest any route has. */
export const modelInputBodyLimit = (env: Pick<Env, "OPENAI_MAX_BODY_MB">) => env.OPENAI_MAX_BODY_MB * 1024 * 1024;

declare module "fastify" {
  interface FastifyReply {
    /**
     * Takes `bytes` of model input the route builds besides its body (a conversation continued
     * from kept answers) from the large-body pool, past the first MB, until the response
     * closes; false when the pool cannot hold them.
     */
    holdLargeInput(bytes: number): boolean;
  }
}

export interface BodyLimitOptions {
  largestBodyLimitBytes: number;
  /** Whether the request's credential is valid (a body over 1 MB is read for no one else). */
  mayHoldLargeBody: (request: FastifyRequest) => Promise<boolean>;
}

export function registerBodyLimit(app: FastifyInstance, opts: BodyLimitOptions): void {
  app.addHook("onRequest", (request, reply, done) => {
    const declared = Number(request.headers["content-length"]);
    // The route's own limit is read only for a body over the default one: most have none.
    if (declared > BODY_LIMIT_BYTES && declared > request.routeOptions.bodyLimit) {
      // The rest of the body is not read: this connection cannot carry another request.
      void reply.header("connection", "close");
      return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    }
    done();
  });

  const pool = bytePool(LARGE_BODY_POOL_FACTOR * opts.largestBodyLimitBytes);
  app.decorateReply("holdLargeInput", function (this: FastifyReply, bytes: number) {
    const over = bytes - BODY_LIMIT_BYTES;
    if (over <= 0) return true;
    if (!pool.take(over)) return false;
    whenResponseClosed(this.raw, () => pool.giveBack(over));
    return true;
  });
  // Callback style, not async: this runs for every request with a body, and most are small.
  app.addHook("preParsing", (request, reply, payload, done) => {
    const { "content-length": length, "transfer-encoding": encoding } = request.headers;
    const mayPassDefaultLimit = length === undefined ? encoding !== undefined : Number(length) > BODY_LIMIT_BYTES;
    if (!mayPassDefaultLimit || request.routeOptions.bodyLimit <= BODY_LIMIT_BYTES) return done(null, payload);
    opts.mayHoldLargeBody(request).then(
      (allowed) => {
        // Answered meanwhile (a malformed chunk, refused on the socket: client-errors.ts): the
        // body's own failure takes its course, and the request keeps the status that was sent.
        if (!request.raw.socket.writable) return done(null, payload);
        if (allowed) return done(null, drawingOnPool(pool, payload, reply.raw));
        done(unreadBody(reply, unauthorizedLargeBody()));
      },
      // The credential could not be checked (its database is down: a 503 to retry).
      (error: unknown) => done(unreadBody(reply, error as Error)),
    );
  });
}

interface BytePool {
  take(bytes: number): boolean;
  giveBack(bytes: number): void;
}

function bytePool(size: number): BytePool {
  let free = size;
  return {
    take(bytes) {
      if (bytes > free) return false;
      free -= bytes;
      return true;
    },
    giveBack(bytes) {
      free += bytes;
    },
  };
}

/** A refusal before the body was read: the rest of it is still on the connection, which cannot carry another request. */
function unreadBody(reply: FastifyReply, error: Error): Error {
  void reply.header("connection", "close");
  return error;
}

const unauthorizedLargeBody = () =>
  new AppError("UNAUTHORIZED", "Invalid or missing access token: a request body over 1 MB is read only with a valid access token or API key", {
    details: { openaiCode: "invalid_api_key" },
  });

export const poolExhausted = () =>
  new AppError("SERVICE_UNAVAILABLE", "The server is holding as many large request bodies as it can; retry shortly", {
    retryAfterSec: 1,
    details: { reason: "overloaded" },
  });

/** The body as it arrives, each byte past the first MB taken from the pool until the response closes. */
function drawingOnPool(pool: BytePool, payload: Readable, response: ServerResponse): Readable {
  let received = 0;
  let drawn = 0;
  let over = false;
  whenResponseClosed(response, () => {
    over = true;
    pool.giveBack(drawn);
    drawn = 0;
  });
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const before = Math.max(0, received - BODY_LIMIT_BYTES);
      received += chunk.length;
      const needed = Math.max(0, received - BODY_LIMIT_BYTES) - before;
      if (needed > 0 && !over) {
        if (!pool.take(needed)) return callback(poolExhausted());
        drawn += needed;
      }
      callback(null, chunk);
    },
  });
  // A client that goes away mid-body fails the parse, as it would unwrapped.
  payload.on("error", (error) => counted.destroy(error));
  return payload.pipe(counted);
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
