/**
 * tRPC over WebSocket, on the same port: a WebSocket upgrade on /trpc speaks tRPC's WS
 * protocol (queries, mutations and subscriptions), for clients that prefer one socket to
 * SSE (`createSwitchboardClient({transport: "websocket"})`). Identity is fixed when the
 * socket opens: the token from connectionParams, the Authorization header, a `bearer.<token>`
 * subprotocol, or the session cookie from an allowed origin. Each gateway call on the socket
 * is a request-log row of its own (socket-turn.ts), and each subscription holds a stream slot
 * of the socket's caller while open, as over SSE (http/stream-slots.ts).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { getWSConnectionHandler } from "@trpc/server/adapters/ws";
import type {} from "@fastify/websocket";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { appRouter, type AppRouter } from "../../routers/index.ts";
import { createContextInner, resolveUser, type CallRunner, type Context } from "../../trpc/context.ts";
import { toTRPCError } from "../../trpc/errors.ts";
import { isAsyncIterable } from "../../trpc/telemetry.ts";
import { takeStreamSlot, type StreamCaller } from "../stream-slots.ts";
import { WS_LIMITS } from "./chat-socket.ts";
import { upgradeToken } from "./socket-auth.ts";
import { socketCalls } from "./socket-turn.ts";

export function registerTrpcSocket(app: FastifyInstance, deps: AppDeps): void {
  const upgrades = new WeakMap<IncomingMessage, FastifyRequest>();
  const onConnection = getWSConnectionHandler<AppRouter>({
    router: appRouter,
    // Connections are handed over by the route below; the server is named for keep-alive only.
    wss: app.websocketServer,
    async createContext({ req, res, info }): Promise<Context> {
      const request = upgrades.get(req);
      const param = info.connectionParams?.["token"];
      const token = param ?? (request ? upgradeToken(deps, request).token : undefined);
      const user = await resolveUser(deps, token, request?.scope);
      const closed = new AbortController();
      res.once("close", () => closed.abort(new Error("client disconnected")));
      const socketId = request?.id ?? randomUUID();
      let calls = 0;
      return createContextInner({
        deps,
        user,
        req: {
          requestId: socketId,
          ip: request?.ip,
          userAgent: req.headers["user-agent"],
          signal: closed.signal,
          // Each chat.* and consensus.* call is logged as a request of its own; each
          // subscription holds a stream slot, so one socket opens no more streams than SSE would.
          eachCall: holdingStreamSlots(
            deps,
            { user, ip: request?.ip },
            socketCalls(deps, { user, ip: request?.ip, requestId: () => `${socketId}:${++calls}` }),
          ),
        },
      });
    },
    keepAlive: { enabled: true, pingMs: WS_LIMITS.pingIntervalMs, pongWaitMs: 10_000 },
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

/**
 * Wraps the socket's runner: a subscription takes a stream slot of the socket's caller (the
 * user it signed in as, else its address) before the procedure runs — refused with
 * TOO_MANY_REQUESTS and `retryAfterSec` when none is free — and frees it when the stream
 * ends, however it ends. Within the call's turn, so a refused chat or consensus stream
 * still gets its request-log row (429).
 */
function holdingStreamSlots(deps: AppDeps, caller: StreamCaller, runner: CallRunner): CallRunner {
  return (call, run) =>
    runner(call, async (scope) => {
      if (call.type !== "subscription") return run(scope);
      let release: () => void;
      try {
        release = takeStreamSlot(deps, caller);
      } catch (error) {
        throw toTRPCError(error);
      }
      try {
        const result = await run(scope);
        if (result.ok && isAsyncIterable(result.data)) return { ...result, data: releasedAtEnd(result.data, release, call.signal) };
        release();
        return result;
      } catch (error) {
        release();
        throw error;
      }
    });
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
