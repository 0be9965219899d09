/**
 * tRPC over WebSocket, on the same port: a WebSocket upgrade on /trpc speaks tRPC's WS
 * protocol (queries, mutations and subscriptions), for clients that prefer one socket to
 * SSE (`createSwitchboardClient({transport: "websocket"})`). The socket carries a token: from
 * connectionParams, the Authorization header, a `bearer.<token>` subprotocol, or the session
 * cookie from an allowed origin. Each call on the socket is made by whoever that token names
 * when the call runs (see `asTokenHolder`). Each gateway call on the socket is a request-log
 * row of its own (socket-turn.ts), and each subscription holds a stream slot of the caller
 * while open, as over SSE (http/stream-slots.ts).
 */
import { TRPC_LIMITS } from "@switchboard/schema";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { getWSConnectionHandler } from "@trpc/server/adapters/ws";
import type {} from "@fastify/websocket";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import type { AppDeps } from "../../deps.ts";
import { appRouter, type AppRouter } from "../../routers/index.ts";
import { createContextInner, resolveUser, type CallResult, type CallRunner, type Context, type ProcedureCall } from "../../trpc/context.ts";
import { isSessionEnded, sessionEndedError, toTRPCError } from "../../trpc/errors.ts";
import { isAsyncIterable } from "../../trpc/telemetry.ts";
import { countAgainstIpLimit } from "../ip-limit.ts";
import { takeStreamSlot, type StreamCaller } from "../stream-slots.ts";
import { WS_LIMITS } from "./chat-socket.ts";
import { closeOnSessionEnd, type SessionClose } from "./session-close.ts";
import { SESSION_ENDED_CLOSE, upgradeToken } from "./socket-auth.ts";
import { socketCalls } from "./socket-turn.ts";

export function registerTrpcSocket(app: FastifyInstance, deps: AppDeps): void {
  const upgrades = new WeakMap<IncomingMessage, FastifyRequest>();
  const onConnection = getWSConnectionHandler<AppRouter>({
    router: appRouter,
    // Connections are handed over by the route below; the server is named for keep-alive only.
    wss: app.websocketServer,
    createContext({ req, res, info }): Context {
      const request = upgrades.get(req);
      const param = info.connectionParams?.["token"];
      const token = param ?? (request ? upgradeToken(deps, request).token : undefined);
      const closed = new AbortController();
      res.once("close", () => closed.abort(new Error("client disconnected")));
      const socketId = request?.id ?? randomUUID();
      // Closed as soon as the token stops acting (revoked, or at its expiry), idle or not
      // (session-close.ts). The token is the socket's for its lifetime: tRPC reads
      // connectionParams once, so a client with a fresh token connects again.
      const session = closeOnSessionEnd(deps, res, (why) => endSession(res, why.close));
      if (token) session.follow(token);
      let calls = 0;
      return createContextInner({
        deps,
        // No one is signed in for the socket's lifetime: each call says who makes it.
        user: null,
        req: {
          requestId: socketId,
          ip: request?.ip,
          userAgent: req.headers["user-agent"],
          signal: closed.signal,
          eachCall: asTokenHolder(deps, {
            token,
            ip: request?.ip,
            requestId: () => `${socketId}:${++calls}`,
            tags: request?.scope?.tags,
            socket: res,
            session,
          }),
        },
      });
    },
    keepAlive: { enabled: true, pingMs: WS_LIMITS.pingIntervalMs, pongWaitMs: 10_000 },
    // At least a user's stream slots: a client reconnecting re-sends every subscription it
    // holds in one message (tRPC's WebSocket client cannot split it).
    maxBatchSize: Math.max(TRPC_LIMITS.maxBatchSize, deps.env.STREAMS_PER_USER),
  });

  app.route({
    method: "GET",
    url: "/trpc",
    // Each procedure declares its feature; the procedure middleware gates it.
    config: { feature: "procedures" },
    // A plain GET here is no procedure call.
    handler: (request, reply) =>
      reply.status(404).send({ error: { code: "NOT_FOUND", message: `No route ${request.method} /trpc; procedures are at /trpc/<name>` } }),
    wsHandler: (socket, request) => {
      upgrades.set(request.raw, request);
      onConnection(socket, request.raw);
    },
  });
}

interface TokenHolder {
  /** The token the socket was opened with, whatever carried it; none: an anonymous socket. */
  token: string | undefined;
  ip: string | undefined;
  /** Names each call: the socket's id and a count. */
  requestId: () => string;
  /** The upgrade request's tags (x-switchboard-tags), each call's too. */
  tags: readonly string[] | undefined;
  socket: WebSocket;
  session: SessionClose;
}

/**
 * The socket's runner, which every call on it goes through. The call is made by whoever the
 * socket's token names now: it is resolved again for each call, as /ws/chat does for each
 * chat (a local check: revocations, roles and disabled users are held in memory), so a
 * sign-out, an expired token, a disabled user or a changed role takes effect on the next
 * call. A token that no longer resolves refuses the call (UNAUTHORIZED) and closes the
 * socket, so the client reconnects and signs in again; a socket without one stays anonymous.
 * A subscription already running when its session or API key ends is ended by the procedure
 * middleware (credential-watch.ts) with the same refusal, and the socket is closed the same way;
 * an idle socket is closed then too, and at its token's expiry (session-close.ts).
 * Each gateway call is a turn of its own (its request-log row), and a subscription takes a
 * stream slot of the caller within it, so a refused call still gets its row.
 */
function asTokenHolder(deps: AppDeps, holder: TokenHolder): CallRunner {
  const turns = socketCalls(deps, { ip: holder.ip, requestId: holder.requestId, tags: holder.tags });
  return (call, run) =>
    turns(call, async (scope) => {
      await countAgainstIpLimit(deps, holder.ip).catch((error: unknown) => {
        throw toTRPCError(error);
      });
      const user = await resolveUser(deps, holder.token, scope).catch((error: unknown) => {
        throw toTRPCError(error);
      });
      if (holder.token && !user) {
        endSession(holder.socket);
        throw sessionEndedError();
      }
      const result = await holdingStreamSlot(deps, call, { user, ip: holder.ip }, holder.session, () => run({ scope, user }));
      return result.ok && isAsyncIterable(result.data) ? { ...result, data: closingOnSessionEnd(result.data, holder.socket) } : result;
    });
}

/** `source` as it is; when it ends because the caller's session ended, the socket is closed too. */
async function* closingOnSessionEnd<T>(source: AsyncIterable<T>, socket: WebSocket): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (error) {
    if (isSessionEnded(error)) endSession(socket);
    throw error;
  }
}

/**
 * Closes the socket after the refusal has gone out: tRPC drops replies on a socket that is
 * closing, and sends this one before the event loop turns, so the close waits for the next
 * turn (as tRPC closes a socket whose context failed).
 */
function endSession(socket: WebSocket, close: { code: number; reason: string } = SESSION_ENDED_CLOSE): void {
  setImmediate(() => {
    if (socket.readyState === socket.OPEN) socket.close(close.code, close.reason);
  });
}

/**
 * A subscription takes a stream slot of its caller (the user, else the socket's address)
 * before the procedure runs — refused with TOO_MANY_REQUESTS and `retryAfterSec` when none
 * is free — and frees it when the stream ends, however it ends. The socket counts it as
 * running meanwhile, so a session end closes the socket only after its refusal went out.
 */
async function holdingStreamSlot<R extends CallResult>(deps: AppDeps, call: ProcedureCall, caller: StreamCaller, session: SessionClose, run: () => Promise<R>): Promise<R> {
  if (call.type !== "subscription") return run();
  let release: () => void;
  try {
    const freeSlot = takeStreamSlot(deps, caller);
    const over = session.streamStarted();
    release = () => {
      freeSlot();
      over();
    };
  } catch (error) {
    throw toTRPCError(error);
  }
  try {
    const result = await run();
    if (result.ok && isAsyncIterable(result.data)) return { ...result, data: releasedAtEnd(result.data, release, call.signal) };
    release();
    return result;
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * `source` as it is; `release` runs when it completes, fails or is returned, or when `signal`
 * aborts. tRPC aborts it however a subscription stops early (unsubscribed, socket closed),
 * also before the stream was first read, when a generator's own `finally` never runs.
 */
function releasedAtEnd<T>(source: AsyncIterable<T>, release: () => void, signal: AbortSignal | undefined): AsyncGenerator<T> {
  if (signal?.aborted) release();
  else signal?.addEventListener("abort", release, { once: true });
  return (async function* () {
    try {
      yield* source;
    } finally {
      signal?.removeEventListener("abort", release);
      release();
    }
  })();
}
