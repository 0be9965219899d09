/**
 * Local fan-out of state changes: the guard's stop signals, `emergency.watch` streams and
 * anything else in this process that must react the moment a freeze is applied. Listeners
 * run synchronously inside apply(), so a stream is cut in the same tick the freeze lands.
 */
import type { TEmergencyStatus } from "@switchboard/schema";

type Listener = (state: TEmergencyStatus) => void;

const sameState = (a: TEmergencyStatus, b: TEmergencyStatus) => a.version === b.version && a.active === b.active;

export function createStateWatchers() {
  const listeners = new Set<Listener>();
  const lifetime = new AbortController();

  function add(listener: Listener): () => void {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }

  function emit(state: TEmergencyStatus): void {
    for (const listener of [...listeners]) {
      try {
        listener(state);
      } catch {
        // One faulty listener must not keep the freeze from reaching the others.
      }
    }
  }

  /**
   * The current state, then each change. A slow consumer gets the latest state, not a
   * backlog: watchers want to know what is true now.
   */
  async function* stream(current: () => TEmergencyStatus, signal?: AbortSignal): AsyncGenerator<TEmergencyStatus> {
    let pending: TEmergencyStatus | null = null;
    let wake: (() => void) | null = null;
    const off = add((state) => {
      pending = state;
      wake?.();
    });
    const stop = () => wake?.();
    signal?.addEventListener("abort", stop);
    lifetime.signal.addEventListener("abort", stop);
    const ended = () => signal?.aborted === true || lifetime.signal.aborted;
    try {
      let last = current();
      yield last;
      while (!ended()) {
        if (pending === null) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
        const next: TEmergencyStatus | null = pending;
        pending = null;
        if (next === null || ended() || sameState(next, last)) continue;
        last = next;
        yield next;
      }
    } finally {
      off();
      signal?.removeEventListener("abort", stop);
      lifetime.signal.removeEventListener("abort", stop);
    }
  }

  function close(): void {
    lifetime.abort();
    listeners.clear();
  }

  return { add, emit, stream, close };
}
