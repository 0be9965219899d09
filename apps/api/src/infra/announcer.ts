/**
 * The listeners of one kind of change (a revocation, a user or API key change), each told in
 * turn. One that throws is reported and the rest are still told: a listener's bug must not
 * keep a revocation from reaching the others.
 */
export interface Announcer<T> {
  announce(change: T): void;
  /** Returns the unsubscribe. */
  listen(listener: (change: T) => void): () => void;
  clear(): void;
}

export function createAnnouncer<T>(onListenerError: (error: unknown) => void): Announcer<T> {
  const listeners = new Set<(change: T) => void>();
  return {
    announce(change) {
      // A copy: a listener may unsubscribe (itself or another) while being told.
      for (const listener of [...listeners]) {
        try {
          listener(change);
        } catch (error) {
          onListenerError(error);
        }
      }
    },
    listen(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    clear: () => listeners.clear(),
  };
}
