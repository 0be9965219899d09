/** WebSocket endpoints: /ws/chat (the streaming backend's protocol) and tRPC at /trpc. */
import fastifyWebsocket from "@fastify/websocket";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { createChatSockets, WS_LIMITS, type ChatSockets } from "./chat-socket.ts";
import { chooseProtocol } from "./socket-auth.ts";
import { registerTrpcSocket } from "./trpc-socket.ts";

export async function registerWebSockets(app: FastifyInstance, deps: AppDeps): Promise<ChatSockets> {
  await app.register(fastifyWebsocket, {
    options: {
      // Above the protocol's own 1 MB limit, so an oversized chat message can still be
      // answered with an error before the 1009 close; beyond this, ws closes at once.
      maxPayload: 4 * WS_LIMITS.maxMessageBytes,
      handleProtocols: (protocols) => chooseProtocol(protocols),
    },
  });
  // An upgrade refused before the plugin saw it (the emergency stop, the per-IP limit) has its
  // answer written on the raw socket, which no HTTP parser owns any more: end it, or it stays
  // open until the client leaves (and holds up a graceful shutdown).
  app.addHook("onResponse", async (request, reply) => {
    if (String(request.headers.upgrade ?? "").toLowerCase() === "websocket") reply.raw.socket?.destroy();
  });
  const chat = createChatSockets(deps);
  app.route({
    method: "GET",
    url: "/ws/chat",
    config: { feature: "chat" },
    handler: (_request, reply) =>
      reply.status(426).header("upgrade", "websocket").send({ error: { code: "UPGRADE_REQUIRED", message: "/ws/chat is a WebSocket endpoint" } }),
    wsHandler: (socket, request) => chat.handle(socket, request),
  });
  registerTrpcSocket(app, deps);
  return chat;
}
