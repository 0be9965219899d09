/**
 * Collects acknowledgements ("instance X now holds version >= v") so a freeze can answer
 * with how many instances applied it. Acks arrive over pub/sub; a waiter is registered
 * before the change is published, so no ack can be missed.
 */
export interface AckWait {
  /** Instances that acknowledged so far (the publishing instance included). */
  readonly acked: ReadonlySet<string>;
  /**
   * Resolves when every id in `expected` has acknowledged, or at `deadline` (a
   * performance.now() timestamp), whichever comes first.
   */
  until(expected: readonly string[], deadline: number): Promise<void>;
  dispose(): void;
}

export function createAckTracker() {
  const waiters = new Set<{ version: number; acked: Set<string>; wake: () => void }>();

  function record(version: number, instanceId: string): void {
    for (const w of waiters) {
      // Holding a newer version implies having applied this one (or its successor).
      if (version >= w.version) {
        w.acked.add(instanceId);
        w.wake();
      }
    }
  }

  function expect(version: number, self: string): AckWait {
    const waiter = { version, acked: new Set([self]), wake: () => {} };
    waiters.add(waiter);
    return {
      acked: waiter.acked,
      async until(expected, deadline) {
        const done = () => expected.every((id) => waiter.acked.has(id));
        while (!done()) {
          const left = deadline - performance.now();
          if (left <= 0) {
            // On a busy event loop the deadline timer can fire before the poll phase reads
            // acks that arrived in time; let that phase run once before concluding.
            await new Promise<void>((resolve) => setImmediate(resolve));
            return;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, left);
            waiter.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          waiter.wake = () => {};
        }
      },
      dispose() {
        waiters.delete(waiter);
      },
    };
  }

  return { record, expect };
}

export type AckTracker = ReturnType<typeof createAckTracker>;
