/**
 * Writes Server-Sent Events to a raw response. Under backpressure it waits for `drain` (or
 * the client leaving) so a slow reader holds the stream, not the server's memory; once the
 * client is gone, writes are dropped.
 */
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";

/**
 * Takes the response over from Fastify and writes an event stream's head: what was set on the
 * reply so far (`headers`), no caching or proxy buffering, and the provider that answers.
 */
export function openEventStream(reply: FastifyReply, headers: Record<string, string>, provider: string): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    ...headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-switchboard-provider": provider,
  });
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
