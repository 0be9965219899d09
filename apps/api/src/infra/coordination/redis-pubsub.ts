/**
 * Multiplexes any number of local handlers over one Redis SUBSCRIBE per channel on the
 * dedicated subscriber connection. Because the channel list lives here (not in ioredis),
 * the adapter can restore it after a reconnect and know when that finished.
 */
import type { Redis } from "ioredis";
import type { Unsubscribe } from "./port.ts";

interface Subscription {
  handler: (message: string) => void;
}

interface Channel {
  subs: Set<Subscription>;
  /** Settles when Redis confirmed the SUBSCRIBE that created this entry. */
  confirmed: Promise<void>;
}

export interface SubscriptionHub {
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  /** Re-issues SUBSCRIBE for every channel that still has handlers (after a reconnect). */
  restore(): Promise<void>;
  clear(): void;
}

export function createSubscriptionHub(
  sub: Redis,
  log: (level: "error", msg: string) => void,
): SubscriptionHub {
  const channels = new Map<string, Channel>();

  sub.on("message", (channel: string, message: string) => {
    const entry = channels.get(channel);
    if (!entry) return; // a channel we just unsubscribed from; Redis may still flush one
    for (const s of [...entry.subs]) {
      if (!entry.subs.has(s)) continue; // removed by an earlier handler in this loop
      try {
        s.handler(message);
      } catch (err) {
        // A throwing handler must neither reach ioredis' parser nor starve the others.
        log("error", `coordination: subscriber on "${channel}" threw: ${String(err)}`);
      }
    }
  });

  return {
    async subscribe(channel, handler) {
      const s: Subscription = { handler };
      let entry = channels.get(channel);
      if (!entry) {
        const created: Channel = { subs: new Set(), confirmed: sub.subscribe(channel).then(() => {}) };
        channels.set(channel, created);
        // Whoever waits on a failed SUBSCRIBE fails; drop the entry so a retry sends anew.
        created.confirmed.catch(() => {
          if (channels.get(channel) === created) channels.delete(channel);
        });
        entry = created;
      }
      // Added before awaiting so a concurrent last-unsubscribe cannot tear the channel down
      // underneath a subscriber that is still waiting for confirmation.
      entry.subs.add(s);
      try {
        await entry.confirmed;
      } catch (err) {
        entry.subs.delete(s);
        throw err;
      }
      const current = entry;
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        current.subs.delete(s);
        if (current.subs.size > 0 || channels.get(channel) !== current) return;
        // Delete and UNSUBSCRIBE in the same tick: a later subscribe() creates a fresh entry
        // whose SUBSCRIBE is queued after this UNSUBSCRIBE on the same connection.
        channels.delete(channel);
        await sub.unsubscribe(channel).catch(() => {
          // Degraded: nothing to do, the channel is no longer in the restore list.
        });
      };
    },

    async restore() {
      const names = [...channels.keys()];
      if (names.length > 0) await sub.subscribe(...names);
    },

    clear() {
      channels.clear();
    },
  };
}
