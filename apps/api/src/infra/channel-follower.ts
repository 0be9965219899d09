/**
 * The plumbing of a local view of shared state (revocations, API keys, users, spend) that
 * follows a coordination channel: peers' messages as they are pushed, a catch-up when
 * coordination reconnects (pushes may have been lost while it was down) and, when asked, a
 * periodic resync for what pushes cannot carry (rows changed straight in the database, a
 * dropped message). The view decides what a message, a reconnect and a resync mean; this
 * is the one place that subscribes, arms the timer and undoes both on close.
 */
import type { Coordination } from "./coordination/port.ts";

export interface ChannelFollowerOptions {
  channel: string;
  /** A message on the channel, whoever published it. */
  onMessage(message: string): void;
  /** Coordination is back after an outage: messages may have been lost meanwhile. */
  onReconnect(): void;
  /** Runs every `intervalMs` until close (a timer that does not keep the process alive). */
  resync?: { intervalMs: number; run(): void } | undefined;
}

/** Subscribes, then listens for reconnects and arms the resync; resolves to the close. */
export async function followChannel(coordination: Coordination, opts: ChannelFollowerOptions): Promise<() => Promise<void>> {
  const unsubscribe = await coordination.subscribe(opts.channel, opts.onMessage);
  const offReconnect = coordination.onReconnect(opts.onReconnect);
  const timer = opts.resync ? setInterval(opts.resync.run, opts.resync.intervalMs) : undefined;
  timer?.unref();
  let closed = false;
  return async () => {
    if (closed) return;
    closed = true;
    if (timer) clearInterval(timer);
    offReconnect();
    await unsubscribe().catch(() => {});
  };
}
