/**
 * Ends a subscription from outside with an explicit last event: a thrown TRPCError, which
 * tRPC sends as the stream's final `serialized-error` event before closing it. The source's
 * own cleanup runs through the procedure's `signal`, which tRPC aborts as the response ends.
 * `onEnd` runs once the stream is over, however it ends (finished, failed, ended here or
 * returned by its reader): what watches the stream from outside is released with it, without
 * another generator around this one.
 */
import { TRPCError } from "@trpc/server";

export async function* endWhen<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
  error: () => TRPCError,
  onEnd?: () => void,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const ended = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(error());
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  ended.catch(() => {}); // raced below; an unraced rejection is not an error
  try {
    while (true) {
      const next = await Promise.race([iterator.next(), ended]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
    onEnd?.();
    // Not awaited: a generator parked on its next event finishes through its signal.
    void iterator.return?.()?.catch(() => {});
  }
}
