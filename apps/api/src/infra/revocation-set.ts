/**
 * A set of revoked ids (sessions, API keys…) held in every instance's memory, so checking a
 * credential on the request path costs no network round trip.
 *
 * - Push: `revoke()` applies locally at once and publishes on a coordination channel; every
 *   other instance applies it when the message arrives (milliseconds).
 * - Resync: the source of truth is the caller's `load` (the database). It is read in full at
 *   start and whenever coordination reconnects (messages may have been lost), and
 *   incrementally every `resyncIntervalMs`, so a revocation reaches every instance within
 *   that interval even when pub/sub is down or a message is dropped.
 * - Safe policy while coordination is unreachable: revocations keep arriving through the
 *   database poll (a few seconds instead of milliseconds). If the database is unreachable
 *   too, the last known set stays in force and the failure is logged once per outage;
 *   nothing is ever removed from the set except by its own expiry.
 * - Listeners (`onRevoked`) hear of every id new to this instance, however it arrived (its own
 *   revoke, a push, a resync), so what a credential authorized can end when it is revoked.
 */
import { createAnnouncer } from "./announcer.ts";
import { followChannel } from "./channel-follower.ts";
import type { Coordination } from "./coordination/port.ts";

export interface RevocationEntry {
  id: string;
  /** When the entry may be forgotten (epoch ms): credentials it revokes have expired by then. Null = never. */
  untilMs: number | null;
}

export interface RevocationSetOptions {
  coordination: Coordination;
  /** Pub/sub channel of this set (the adapter adds the key prefix). */
  channel: string;
  /**
   * Reads revocations from the source of truth. `sinceMs` null = everything still relevant;
   * otherwise those recorded at or after `sinceMs`.
   */
  load(sinceMs: number | null): Promise<RevocationEntry[]>;
  resyncIntervalMs?: number | undefined;
  log?: ((msg: string, err?: unknown) => void) | undefined;
}

export const REVOCATION_RESYNC_INTERVAL_MS = 2_000;
/** Incremental loads look back this much further than the last one started (clock skew, slow commits). */
const OVERLAP_MS = 5_000;

export interface RevocationSet {
  start(): Promise<void>;
  has(id: string): boolean;
  /** Calls `listener` with the ids newly revoked here, however they arrived; returns the unsubscribe. */
  onRevoked(listener: (ids: string[]) => void): () => void;
  /** Revokes locally at once, then tells every other instance. Never throws for a coordination outage. */
  revoke(entries: RevocationEntry[]): Promise<void>;
  /** Re-reads the source of truth in full (start, reconnect; tests). */
  resync(): Promise<void>;
  size(): number;
  close(): Promise<void>;
}

export function createRevocationSet(opts: RevocationSetOptions): RevocationSet {
  const entries = new Map<string, number | null>();
  const intervalMs = opts.resyncIntervalMs ?? REVOCATION_RESYNC_INTERVAL_MS;
  let lastLoadStartedMs: number | null = null;
  let stopFollowing: (() => Promise<void>) | undefined;
  let failing = false;
  const revoked = createAnnouncer<string[]>((error) => opts.log?.(`revocation set ${opts.channel}: a listener failed`, error));

  function apply(list: RevocationEntry[]): void {
    const fresh: string[] = [];
    for (const { id, untilMs } of list) {
      const known = entries.get(id);
      if (known === undefined) fresh.push(id);
      // Keep the longer-lived entry when both know it.
      if (known === undefined || (known !== null && (untilMs === null || untilMs > known))) entries.set(id, untilMs);
    }
    if (fresh.length > 0) revoked.announce(fresh);
  }

  function prune(now: number): void {
    for (const [id, untilMs] of entries) if (untilMs !== null && untilMs <= now) entries.delete(id);
  }

  async function load(full: boolean): Promise<void> {
    const startedMs = Date.now();
    const since = full || lastLoadStartedMs === null ? null : lastLoadStartedMs - OVERLAP_MS;
    try {
      apply(await opts.load(since));
      lastLoadStartedMs = startedMs;
      if (failing) opts.log?.(`revocation set ${opts.channel}: source reachable again`);
      failing = false;
    } catch (error) {
      if (!failing) opts.log?.(`revocation set ${opts.channel}: reading revocations failed; keeping the last known set`, error);
      failing = true;
      if (full) lastLoadStartedMs = null; // the next poll tries a full read again
    }
    prune(Date.now());
  }

  return {
    async start() {
      // Subscribe first, then read: a revocation published in between is not missed.
      stopFollowing = await followChannel(opts.coordination, {
        channel: opts.channel,
        onMessage(message) {
          try {
            const list = JSON.parse(message) as RevocationEntry[];
            if (Array.isArray(list)) apply(list.filter((e) => typeof e?.id === "string"));
          } catch {
            opts.log?.(`revocation set ${opts.channel}: ignored a malformed message`);
          }
        },
        onReconnect: () => void load(true),
        resync: { intervalMs, run: () => void load(false) },
      });
      await load(true);
    },

    has(id) {
      const untilMs = entries.get(id);
      if (untilMs === undefined) return false;
      return untilMs === null || untilMs > Date.now();
    },

    async revoke(list) {
      apply(list);
      try {
        await opts.coordination.publish(opts.channel, JSON.stringify(list));
      } catch (error) {
        // Other instances pick it up from their next database poll.
        opts.log?.(`revocation set ${opts.channel}: publish failed; peers will see it on their next resync`, error);
      }
    },

    onRevoked: revoked.listen,

    resync: () => load(true),
    size: () => entries.size,

    async close() {
      revoked.clear();
      await stopFollowing?.();
    },
  };
}
