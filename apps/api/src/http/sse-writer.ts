/**
 * Writes Server-Sent Events to a raw response. Under backpressure it waits for `drain` (or
 * the client leaving) so a slow reader holds the stream, not the server's memory; once the
 * client is gone, writes are dropped.
 *
 * Events written in one turn of the event loop (an upstream read often carries several) leave
 * in one socket write: the response is corked at the first and uncorked once the turn's
 * work is done, which costs no latency and saves a system call per event.
 */
import type { ServerResponse } from "node:http";

export function sseWriter(raw: ServerResponse): (data: unknown) => Promise<void> {
  let corked = false;
  const uncork = () => {
    corked = false;
    raw.uncork();
  };
  return async (data) => {
    if (raw.destroyed) return;
    if (!corked) {
      corked = true;
      raw.cork();
      process.nextTick(uncork);
    }
    if (raw.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`) || raw.destroyed) return;
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
