/** WebSocket endpoints: /ws/chat (the streaming backend's protocol) and tRPC at /trpc. */
import fastifyWebsocket from "@fastify/websocket";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import type { AppDeps } from "../../deps.ts";
import { arrivedAsUpgrade } from "../arrived-as-upgrade.ts";
import { WS_LIMITS, type ChatSockets } from "./chat-socket.ts";
import { dropSlowReader } from "./slow-reader.ts";
import { onSocketError } from "./socket-errors.ts";
import { clientAddressOf, registerSocketsPerAddress } from "./sockets-per-address.ts";
import { chooseProtocol } from "./socket-auth.ts";
import { registerTrpcSocket } from "./trpc-socket.ts";


/** Registers the plugin and the socket routes; call it after every plain HTTP route (see server.ts). */
export async function registerWebSockets(app: FastifyInstance, deps: AppDeps, chat: ChatSockets): Promise<void> {
  await app.register(fastifyWebsocket, {
    options: {
      // Above the protocol's own 1 MB limit, so an oversized chat message can still be
      // answered with an error before the 1009 close; beyond this, ws closes at once.
      maxPayload: 4 * WS_LIMITS.maxMessageBytes,
      handleProtocols: (protocols) => chooseProtocol(protocols),
    },
    // A peer breaking the protocol is a warn line, not an error with a stack.
    errorHandler: onSocketError,
  });
  registerSocketsPerAddress(app, deps.env.WS_SOCKETS_PER_IP);
  app.websocketServer.on("connection", (socket: WebSocket, raw: IncomingMessage) =>
    dropSlowReader(socket, app.log.child({ ws: raw.url?.split("?")[0], remoteAddress: clientAddressOf(raw) ?? raw.socket.remoteAddress })),
  );
  // A request that arrived as an upgrade (a WebSocket handshake, or `Upgrade: h2c` from curl
  // --http2) left Node's HTTP parser. Whatever answers it over HTTP (a refusal such as the
  // emergency stop or the per-IP limit, or a route that is not a socket) is the last thing on
  // that connection: say so, or a keep-alive client sends its next request into a socket that
  // nothing reads and waits forever; then end it, or it stays open until the client leaves
  // (and holds up a graceful shutdown).
  app.addHook("onSend", (request, reply, payload, done) => {
    if (arrivedAsUpgrade(request)) void reply.header("connection", "close");
    done(null, payload);
  });
  // Callback style, not async: this runs for every response, and an async hook costs a promise each time.
  app.addHook("onResponse", (request, reply, done) => {
    if (arrivedAsUpgrade(request)) reply.raw.socket?.destroy();
    done();
  });
  app.route({
    method: "GET",
    url: "/ws/chat",
    config: { feature: "chat" },
    handler: (_request, reply) =>
      reply.status(426).header("upgrade", "websocket").send({ error: { code: "UPGRADE_REQUIRED", message: "/ws/chat is a WebSocket endpoint" } }),
    wsHandler: (socket, request) => chat.handle(socket, request),
  });
  registerTrpcSocket(app, deps);
}
