/**
 * The process's stop, as the parts that serve requests see it: `stopping` fires when SIGTERM
 * arrives (stop taking work, end endless streams now), `deadline` when in-flight work has had
 * its time (end what is left with an explicit error, so it can still be written out).
 */
export interface Lifecycle {
  readonly stopping: AbortSignal;
  readonly deadline: AbortSignal;
  /**
   * Calls `listener` when `deadline` fires (at once if it has); returns the unsubscribe.
   * For per-request subscribers: a plain set costs far less than an EventTarget listener.
   */
  onDeadline(listener: () => void): () => void;
  /** Starts the stop; `deadline` fires `graceMs` later. Idempotent. */
  beginStop(graceMs: number): void;
}

export function createLifecycle(): Lifecycle {
  const stopping = new AbortController();
  const deadline = new AbortController();
  const atDeadline = new Set<() => void>();
  deadline.signal.addEventListener("abort", () => {
    for (const listener of atDeadline) listener();
    atDeadline.clear();
  });
  return {
    stopping: stopping.signal,
    deadline: deadline.signal,
    onDeadline(listener) {
      if (deadline.signal.aborted) {
        listener();
        return () => {};
      }
      // A wrapper per subscription: the same function may be subscribed twice.
      const once = () => listener();
      atDeadline.add(once);
      return () => void atDeadline.delete(once);
    },
    beginStop(graceMs) {
      if (stopping.signal.aborted) return;
      stopping.abort();
      setTimeout(() => deadline.abort(), graceMs).unref();
    },
  };
}
