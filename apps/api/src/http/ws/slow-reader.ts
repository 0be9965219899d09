/**
 * A bound on what one WebSocket can make the server hold for it. Replies are queued in memory
 * until the peer reads them, so a client that keeps asking but never reads (tRPC echoes each
 * call's id, however long; /ws/chat answers every ping) could grow the queue without end —
 * hundreds of megabytes from one anonymous socket. Before each send the queue is checked: a
 * peer already this far behind is cut off (no close frame could reach it anyway), and a log
 * line says so. One check for every socket on the server, whichever route it is on.
 */
import type { FastifyBaseLogger } from "fastify";
import type { WebSocket } from "ws";

/**
 * Bytes queued for a peer beyond which the next send drops it. Several of the largest replies
 * (a long conversation page), so a client that reads, even slowly, is never cut off; a
 * socket that reads nothing costs this much at most, plus one reply.
 */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** Makes `socket` drop its peer when it falls `maxBuffered` bytes behind. */
export function dropSlowReader(socket: WebSocket, log: FastifyBaseLogger, maxBuffered = MAX_BUFFERED_BYTES): void {
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  socket.send = ((...args: unknown[]) => {
    if (socket.readyState === socket.OPEN && socket.bufferedAmount > maxBuffered) {
      log.warn({ bufferedBytes: socket.bufferedAmount, limitBytes: maxBuffered }, "dropped a WebSocket peer that stopped reading");
      socket.terminate();
    }
    // After the cut, ws hands the send's callback (if any) a "not open" error.
    send(...args);
  }) as WebSocket["send"];
}
