/**
 * The response of a streamed answer: the /v1 streams (chat completions and Responses) and the
 * legacy /api/chat/stream, each writing its own events through it. Its head is held for the
 * first event, so a failure before it (every provider down, rate limited, a model that does
 * not exist) is still answered with its own HTTP status. Held only so long: a reasoning model
 * may think for minutes before its first token, and a proxy with a 60 s idle timeout would cut
 * the silent request. After `heartbeatMs` without an event the head goes out (200, with every
 * header set so far, but no x-switchboard-provider: none has answered yet) with a
 * `: keep-alive` comment, and another comment follows whenever the stream has been silent that
 * long, between tokens too. Once the head is out a failure can only be an error event (in the
 * stream's own protocol), whether any text was sent or not.
 */
import type { FastifyReply } from "fastify";
import type { AppDeps } from "../deps.ts";
import { openEventStream, SSE_HEARTBEAT_MS, sseHeartbeat, sseWriter } from "./sse-writer.ts";

/** The silence a stream keeps before its heartbeat: SSE_HEARTBEAT_MS, unless a test shortens it. */
export const heartbeatMsOf = (deps: Pick<AppDeps, "sseHeartbeatMs">) => deps.sseHeartbeatMs ?? SSE_HEARTBEAT_MS;

export interface HeldEventStream {
  /** The head is out: a failure from now on is an error event, not a status. */
  readonly open: boolean;
  /**
   * The first event is here: writes the head, naming the provider that answered when there is
   * one (an error event may come first), unless a heartbeat already wrote it.
   */
  start(provider?: string): void;
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
