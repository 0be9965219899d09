/**
 * tRPC over WebSocket, on the same port: a WebSocket upgrade on /trpc speaks tRPC's WS
 * protocol (queries, mutations and subscriptions), for clients that prefer one socket to
 * SSE (`createSwitchboardClient({transport: "websocket"})`). Identity is fixed when the
 * socket opens: the token from connectionParams, the Authorization header, a `bearer.<token>`
 * subprotocol, or the session cookie from an allowed origin. Each gateway call on the socket
 * is a request-log row of its own (socket-turn.ts).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { getWSConnectionHandler } from "@trpc/server/adapters/ws";
import type {} from "@fastify/websocket";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { appRouter, type AppRouter } from "../../routers/index.ts";
import { createContextInner, resolveUser, type Context } from "../../trpc/context.ts";
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
          // Each chat.* and consensus.* call is logged as a request of its own.
          eachCall: socketCalls(deps, { user, ip: request?.ip, requestId: () => `${socketId}:${++calls}` }),
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
