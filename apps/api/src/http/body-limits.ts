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
 * credential draws on the pool (checked before the body is read, `largeBodyHolder`): without
 * that, anyone could hold it with a few slow uploads and refuse every signed-in photo; on a
 * procedure's own route, only a caller it accepts (large-body-holder.ts). And
 * one caller (a user, through any of their tokens and keys) holds at most half of it, a 429
 * past that: one account's slow uploads or photo batch cannot refuse everyone else's. A tRPC
 * procedure may declare a larger body too (config.import: a whole configuration document).
 */
import type { ServerResponse } from "node:http";
import { Transform, type Readable } from "node:stream";
import { formatMegabytes } from "@switchboard/schema";
import { errorCodes, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Env } from "../env.ts";
import { createBytePool, type BytePool, type BytePoolRefusal } from "../infra/byte-pool.ts";
import { whenResponseClosed } from "../infra/response-closed.ts";
import { AppError } from "../services/errors.ts";

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** How many bodies at the largest route limit an instance holds at once (docs/security.md). */
export const LARGE_BODY_POOL_FACTOR = 4;
/** How many of those one caller may hold: half the pool, so two callers at their share leave nothing and three cannot. */
export const LARGE_BODY_SHARE_PER_CALLER = 2;

/** The limit the /v1 routes carrying model input declare; the largest any route has. */
export const modelInputBodyLimit = (env: Pick<Env, "OPENAI_MAX_BODY_MB">) => env.OPENAI_MAX_BODY_MB * 1024 * 1024;

declare module "fastify" {
  interface FastifyReply {
    /**
     * Takes `bytes` of model input the route builds besides its body (a conversation continued
     * from kept answers) from the large-body pool, past the first MB, as caller `holder`'s,
     * until the response closes; throws the refusal (503, or 429 past the caller's share).
     */
    holdLargeInput(bytes: number, holder: string): void;
  }
}

export interface BodyLimitOptions {
  /** The model-input routes' limit, which sizes the pool. */
  largestBodyLimitBytes: number;
  /** Who the request's valid credential belongs to (a user id), whose share a large body counts against; or why the body is not read (no valid credential, or one the route refuses). */
  largeBodyHolder: (request: FastifyRequest) => Promise<string | Error>;
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

  const pool = createBytePool(LARGE_BODY_POOL_FACTOR * opts.largestBodyLimitBytes, LARGE_BODY_SHARE_PER_CALLER * opts.largestBodyLimitBytes);
  // A route taking more than that (config.import's whole document, when OPENAI_MAX_BODY_MB is
  // set below it) holds one such body at a time, apart from the pool the operator sized: a
  // second at once is a 503 to retry (configuration changes serialise anyway).
  const single = new Map<number, BytePool>();
  const poolFor = (limit: number) => {
    if (limit <= opts.largestBodyLimitBytes) return pool;
    const own = single.get(limit) ?? createBytePool(limit);
    single.set(limit, own);
    return own;
  };
  app.decorateReply("holdLargeInput", function (this: FastifyReply, bytes: number, holder: string) {
    const over = bytes - BODY_LIMIT_BYTES;
    if (over <= 0) return;
    const refused = pool.take(over, holder);
    if (refused) throw largeBodyRefusal(refused);
    whenResponseClosed(this.raw, () => pool.giveBack(over, holder));
  });
  // Callback style, not async: this runs for every request with a body, and most are small.
  app.addHook("preParsing", (request, reply, payload, done) => {
    const { "content-length": length, "transfer-encoding": encoding } = request.headers;
    const mayPassDefaultLimit = length === undefined ? encoding !== undefined : Number(length) > BODY_LIMIT_BYTES;
    if (!mayPassDefaultLimit || request.routeOptions.bodyLimit <= BODY_LIMIT_BYTES) return done(null, payload);
    opts.largeBodyHolder(request).then(
      (holder) => {
        // Answered meanwhile (a malformed chunk, refused on the socket: client-errors.ts): the
        // body's own failure takes its course, and the request keeps the status that was sent.
        if (!request.raw.socket.writable) return done(null, payload);
        if (holder instanceof Error) return done(unreadBody(reply, holder));
        done(null, drawingOnPool(poolFor(request.routeOptions.bodyLimit), holder, payload, reply.raw));
      },
      // The credential could not be checked (its database is down: a 503 to retry).
      (error: unknown) => done(unreadBody(reply, error as Error)),
    );
  });
}

/**
 * Fastify's "body too large" with the route's own limit in it: its message is one text for
 * every route, which told a caller of a route taking 16 MB that the limit was 1 MB.
 */
export function withRouteBodyLimit(request: FastifyRequest, error: unknown): unknown {
  if ((error as FastifyError | undefined)?.code !== "FST_ERR_CTP_BODY_TOO_LARGE") return error;
  const limit = request.routeOptions.bodyLimit ?? BODY_LIMIT_BYTES;
  return new AppError("PAYLOAD_TOO_LARGE", `Request body too large (limit ${formatMegabytes(limit)})`, { cause: error });
}

/** A refusal before the body was read: the rest of it is still on the connection, which cannot carry another request. */
function unreadBody(reply: FastifyReply, error: Error): Error {
  void reply.header("connection", "close");
  return error;
}

const largeBodyRefusal = (refused: BytePoolRefusal) => (refused === "share_full" ? shareExhausted() : poolExhausted());

const poolExhausted = () =>
  new AppError("SERVICE_UNAVAILABLE", "The server is holding as many large request bodies as it can; retry shortly", {
    retryAfterSec: 1,
    details: { reason: "overloaded" },
  });

const shareExhausted = () =>
  new AppError("TOO_MANY_REQUESTS", "Too many large request bodies of yours are in flight on this server at once; retry when one has been answered", {
    retryAfterSec: 1,
    details: { openaiCode: "rate_limit_exceeded" },
  });

/** The body as it arrives, each byte past the first MB taken from the pool as `holder`'s until the response closes. */
function drawingOnPool(pool: BytePool, holder: string, payload: Readable, response: ServerResponse): Readable {
  let received = 0;
  let drawn = 0;
  let over = false;
  whenResponseClosed(response, () => {
    over = true;
    pool.giveBack(drawn, holder);
    drawn = 0;
  });
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const before = Math.max(0, received - BODY_LIMIT_BYTES);
      received += chunk.length;
      const needed = Math.max(0, received - BODY_LIMIT_BYTES) - before;
      if (needed > 0 && !over) {
        const refused = pool.take(needed, holder);
        if (refused) return callback(largeBodyRefusal(refused));
        drawn += needed;
      }
      callback(null, chunk);
    },
  });
  // A client that goes away mid-body fails the parse, as it would unwrapped.
  payload.on("error", (error) => counted.destroy(error));
  return payload.pipe(counted);
}
