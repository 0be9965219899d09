/**
 * The response of a streamed /v1 answer (chat completions and Responses alike). Its head is
 * held for the first event, so a failure before it (every provider down, rate limited, a model
 * that does not exist) is still answered with its own HTTP status. Held only so long: a
 * reasoning model may think for minutes before its first token, and a proxy with a 60 s idle
 * timeout would cut the silent request. After `heartbeatMs` without an event the head goes
 * out (200, with every header set so far, but no x-switchboard-provider: none has answered
 * yet) with a `: keep-alive` comment, and another comment follows whenever the stream has been
 * silent that long, between tokens too. Once the head is out a failure can only be an error
 * event, whether any text was sent or not.
 */
import type { FastifyReply } from "fastify";
import { openEventStream, sseHeartbeat, sseWriter } from "../sse-writer.ts";

export interface HeldEventStream {
  /** The head is out: a failure from now on is an error event, not a status. */
  readonly open: boolean;
  /** The first provider answered: writes the head naming it, unless a heartbeat already did. */
  start(provider: string): void;
  send(data: unknown, event?: string): Promise<void>;
  /** Stops the heartbeat and, when the head is out, ends the response. */
  end(): void;
}

export function holdEventStream(
  reply: FastifyReply,
  opts: {
    /** The headers set so far, read when the head goes out. */
    headers: () => Record<string, string>;
    heartbeatMs: number;
    /** Runs once, as the head goes out (by the first event or a heartbeat). */
    onOpen: () => void;
  },
): HeldEventStream {
  const raw = reply.raw;
  const write = sseWriter(raw);
  let open = false;
  const openHead = (provider: string | undefined) => {
    if (open) return;
    open = true;
    opts.onOpen();
    openEventStream(reply, opts.headers(), provider);
  };
  const heartbeat = sseHeartbeat(raw, opts.heartbeatMs, () => openHead(undefined));
  return {
    get open() {
      return open;
    },
    start: (provider) => openHead(provider),
    send(data, event) {
      heartbeat.sent();
      return write(data, event);
    },
    end() {
      heartbeat.stop();
      if (open) raw.end();
    },
  };
}
