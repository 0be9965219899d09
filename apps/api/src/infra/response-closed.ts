/**
 * When a response is over for good — the one event everything a request holds is given back
 * on: its place under the in-flight cap, a stream slot, its telemetry and budget places, the
 * abort of work for a client that left.
 *
 * The response's own "close" fires once for every response, hijacked streams and aborted
 * requests included — except one that was never written: on a keep-alive connection a
 * client may pipeline requests behind one that is still streaming; Node runs them at once but
 * queues their responses, and when the connection is reset, Node 20 never closes the queued
 * ones. So the connection's "close" ends them too. One listener per response and one per
 * connection, whatever the number of waits on them — a tRPC batch waits once per call, a
 * connection once per pipelined request — so no listener-count warnings.
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * The waits on one response or connection, kept on the object itself: a WeakMap entry per
 * response would cost the garbage collector an ephemeron for every request.
 */
const WAITING = Symbol("switchboard.waitingOnClose");
type Closable = (Socket | ServerResponse) & { [WAITING]?: Set<() => void> | undefined };

/** One "close" listener per response or connection, whatever the number of waits on it. */
function onClose(target: Closable, listener: () => void): () => void {
  let waiting = target[WAITING];
  if (!waiting) {
    const set = new Set<() => void>();
    waiting = set;
    target[WAITING] = set;
    target.once("close", () => {
      target[WAITING] = undefined;
      for (const run of set) run();
    });
  }
  waiting.add(listener);
  return () => void waiting.delete(listener);
}

/**
 * Runs `listener` once, when the response closes or its connection does, whichever comes
 * first; at once when that has already happened (a listener added after "close" would never
 * run). Returns a function that cancels it.
 */
export function whenResponseClosed(res: ServerResponse, listener: () => void): () => void {
  const socket = res.req.socket;
  if (res.closed || res.destroyed || socket.destroyed) {
    listener();
    return () => {};
  }
  let done = false;
  const run = () => {
    if (done) return;
    cancel();
    listener();
  };
  const stopWaitingOnResponse = onClose(res, run);
  const stopWaitingOnSocket = onClose(socket, run);
  function cancel(): void {
    done = true;
    stopWaitingOnResponse();
    stopWaitingOnSocket();
  }
  return cancel;
}
