/**
 * Connections that never carried a byte are closed as the server closes. Clients open them
 * ahead of need: undici (Node's fetch, the `openai` SDK) reconnects at once after an aborted
 * request and keeps the new socket unused for the keep-alive time the server advertised
 * (KEEP_ALIVE_TIMEOUT_MS, 72 s by default); browsers and proxies preconnect. Node counts such
 * a connection neither as idle (closeIdleConnections leaves it) nor, once closing, checks its
 * header deadline any more, so the server's close waited for the client to drop it: a SIGTERM
 * held to SHUTDOWN_TIMEOUT_MS with nothing in flight, a bare `server.close()` for 70 s.
 * Nothing is lost: no request has begun on them.
 */
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";

export function registerUnusedConnectionClosing(app: FastifyInstance): void {
  // Connections that have not had a request yet: one leaves at its first request. (No
  // "upgrade" listener: adding one changes how Node routes Upgrade requests; an upgraded
  // socket has read its handshake, so the byte count below keeps it.)
  const unused = new Set<Socket>();
  app.server.on("connection", (socket: Socket) => {
    unused.add(socket);
    socket.once("close", () => unused.delete(socket));
  });
  app.server.on("request", (request: { socket: Socket }) => unused.delete(request.socket));
  // Before the server stops listening and closes its idle connections (Fastify's close).
  app.addHook("preClose", (done) => {
    // A request whose first bytes arrived but whose headers are not whole yet is kept.
    for (const socket of unused) if (socket.bytesRead === 0) socket.destroy();
    done();
  });
}
