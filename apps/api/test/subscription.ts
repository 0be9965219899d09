/** Reads a tRPC subscription (chat.stream, consensus.stream, …) into an array until its last event. */
export interface SubscriptionHandlers<E> {
  onData(event: E): void;
  onError(error: unknown): void;
  onComplete(): void;
}

/**
 * Collects events until `isLast(event)` (or the server completes; a transport error rejects).
 * `onEvent` sees each event as it arrives, with everything received so far.
 */
export function collectEvents<E>(
  subscribe: (handlers: SubscriptionHandlers<E>) => { unsubscribe(): void },
  isLast: (event: E) => boolean,
  onEvent: (event: E, events: E[]) => void = () => {},
): Promise<E[]> {
  return new Promise((resolve, reject) => {
    const events: E[] = [];
    const sub = subscribe({
      onData(event) {
        events.push(event);
        onEvent(event, events);
        if (isLast(event)) {
          sub.unsubscribe();
          resolve(events);
        }
      },
      onError: (error) => {
        sub.unsubscribe();
        reject(error);
      },
      onComplete: () => resolve(events),
    });
  });
}
