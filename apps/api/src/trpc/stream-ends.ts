/**
 * Ends a subscription from outside with an explicit last event: a thrown TRPCError, which
 * tRPC sends as the stream's final `serialized-error` event before closing it. The source's
 * own cleanup runs through the procedure's `signal`, which tRPC aborts as the response ends.
 * `onEnd` runs once the stream is over, however it ends (finished, failed, ended here or
 * returned by its reader): what watches the stream from outside is released with it, without
 * another generator around this one.
 */
import { TRPCError } from "@trpc/server";

/** One reason a stream may end from outside: when `signal` aborts, `error()` is its last word. */
export interface StreamEnd {
  signal: AbortSignal;
  error: () => TRPCError;
}

/** The first of `ends` to fire ends the stream with its error (several ends, still one layer). */
export async function* endWhen<T>(source: AsyncIterable<T>, ends: readonly StreamEnd[], onEnd?: () => void): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const listening: Array<[AbortSignal, () => void]> = [];
  let endedWith: TRPCError | undefined;
  // Rejects the wait for the current event only. (Racing every event against one promise
  // that stays pending for the stream's life would leave a reaction on it per event, each
  // holding its event: a subscription open for days kept all it ever sent.)
  let interrupt: ((error: TRPCError) => void) | undefined;
  for (const { signal, error } of ends) {
    const onAbort = () => {
      endedWith ??= error();
      interrupt?.(endedWith);
    };
    if (signal.aborted) {
      onAbort();
      break;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    listening.push([signal, onAbort]);
  }
  try {
    while (true) {
      if (endedWith) throw endedWith;
      const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
        interrupt = reject;
        iterator.next().then(resolve, reject);
      });
      interrupt = undefined;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    for (const [signal, onAbort] of listening) signal.removeEventListener("abort", onAbort);
    onEnd?.();
    // Not awaited: a generator parked on its next event finishes through its signal.
    void iterator.return?.()?.catch(() => {});
  }
}
