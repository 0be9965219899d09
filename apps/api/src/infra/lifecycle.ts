/**
 * The process's stop, as the parts that serve requests see it: `stopping` fires when SIGTERM
 * arrives (stop taking work, end endless streams now), `deadline` when in-flight work has had
 * its time (end what is left with an explicit error, so it can still be written out).
 */
export interface Lifecycle {
  readonly stopping: AbortSignal;
  readonly deadline: AbortSignal;
  /** Starts the stop; `deadline` fires `graceMs` later. Idempotent. */
  beginStop(graceMs: number): void;
}

export function createLifecycle(): Lifecycle {
  const stopping = new AbortController();
  const deadline = new AbortController();
  return {
    stopping: stopping.signal,
    deadline: deadline.signal,
    beginStop(graceMs) {
      if (stopping.signal.aborted) return;
      stopping.abort();
      setTimeout(() => deadline.abort(), graceMs).unref();
    },
  };
}
