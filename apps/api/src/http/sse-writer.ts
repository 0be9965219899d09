/**
 * Writes Server-Sent Events to a raw response. Under backpressure it waits for `drain` (or
 * the client leaving) so a slow reader holds the stream, not the server's memory; once the
 * client is gone, writes are dropped. Streams that may go quiet carry a heartbeat.
 */
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";

/**
 * How long an event stream may stay silent before it says it is alive (tRPC's `ping` event,
 * the answer streams' `: keep-alive` comment: /v1 and /api/chat/stream). A quarter of the 60 s
 * idle timeout proxies and load balancers commonly cut at (nginx's proxy_read_timeout, AWS
 * ALB's idle timeout), so a beat or two may be late and the link still never looks idle; and
 * longer than most models take to their first token, so a quick failure is still answered
 * with its own HTTP status.
 */
export const SSE_HEARTBEAT_MS = 15_000;

/** An SSE comment: every client skips it; proxies and idle-socket timers see traffic. */
const KEEP_ALIVE_COMMENT = ": keep-alive\n\n";

/**
 * Takes the response over from Fastify and writes an event stream's head: what was set on the
 * reply so far (`headers`), no caching or proxy buffering, and the provider that answers when
 * it is known yet (a stream opened by its heartbeat, before any provider answered, has none).
 */
export function openEventStream(reply: FastifyReply, headers: Record<string, string>, provider: string | undefined): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    ...headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    ...(provider !== undefined ? { "x-switchboard-provider": provider } : {}),
  });
}

export interface SseHeartbeat {
  /** Something was written: the silence starts again. */
  sent(): void;
  stop(): void;
}

/**
 * Writes `: keep-alive` whenever the stream has been silent for `intervalMs`. `beforeBeat` runs
 * first, so a stream whose head is not out yet can write it. A client that is not reading
 * (the socket's buffer is full) gets no beat: traffic is waiting for it already.
 */
export function sseHeartbeat(raw: ServerResponse, intervalMs: number, beforeBeat: () => void): SseHeartbeat {
  const timer = setTimeout(() => {
    if (raw.destroyed) return;
    beforeBeat();
    if (!raw.writableNeedDrain) raw.write(KEEP_ALIVE_COMMENT);
    timer.refresh();
  }, intervalMs);
  return { sent: () => void timer.refresh(), stop: () => clearTimeout(timer) };
}

export function sseWriter(raw: ServerResponse): (data: unknown, event?: string) => Promise<void> {
  return async (data, event) => {
    if (raw.destroyed) return;
    const text = `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
    if (raw.write(text) || raw.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        raw.off("drain", done);
        raw.off("close", done);
        resolve();
      };
      raw.on("drain", done);
      raw.on("close", done);
    });
  };
}
