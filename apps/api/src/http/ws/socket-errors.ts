/**
 * What becomes of an error on an open WebSocket (@fastify/websocket's `errorHandler`, for
 * every socket route). A peer that breaks the protocol (a text frame that is not UTF-8, an
 * unmasked or reserved frame, a bad close code, a frame over `maxPayload`) makes `ws` emit an
 * error once it has already sent the close RFC 6455 calls for (1007, 1002, 1009) and stopped
 * reading. The plugin's default logged that at error level, stack and all, so any client
 * could fill the error log at will: it is one warn line without a stack, and `ws` finishes
 * the close it began. Anything else (a socket handler that threw) is a fault of ours: error
 * level, and the socket is cut, as the default did.
 */
import type { FastifyRequest } from "fastify";
import type { WebSocket } from "ws";

/** `ws` names each protocol violation it reads from a peer `WS_ERR_…` (`WS_ERR_INVALID_UTF8`). */
function peerFault(error: Error): string | undefined {
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("WS_ERR_") ? code : undefined;
}

export function onSocketError(error: Error, socket: WebSocket, request: FastifyRequest): void {
  const code = peerFault(error);
  if (code !== undefined) {
    // The route pattern, not the URL: no query string (nor anything in it) reaches the log.
    // ws's messages are fixed phrases, with at most a number the peer sent (a length, an opcode).
    request.log.warn({ ws: request.routeOptions.url, ip: request.ip, code, reason: error.message }, "closed a WebSocket peer that broke the protocol");
    return;
  }
  request.log.error({ err: error }, "websocket handler failed");
  socket.terminate();
}
