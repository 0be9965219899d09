/**
 * Values kept for a while on behalf of a user (answers to refer back to, answers to repeat),
 * where every instance can read them, each user bounded so that no one fills the room the
 * others' values need:
 * - cluster mode: in the coordination store, at most `sharedMaxCharsPerUserHour` characters
 *   written per user within an hour (the store also holds the emergency state);
 * - embedded default: in this process, `inProcessMaxBytes` in all (the least recently used go
 *   first) and at most half of it per user: a user at their half makes room from their own
 *   values (expired ones, then the oldest), so no one user can push out everyone else's.
 */
import { LRUCache } from "lru-cache";
import type { Coordination } from "../infra/coordination/port.ts";

export interface KeptPerUserLimits {
  /** Names the per-user counter in the coordination store (cluster). */
  counter: string;
  /** Cluster: what one user may write within an hour, in characters. */
  sharedMaxCharsPerUserHour: number;
  /** Embedded: what all users' values may take in memory, about (two bytes a character). */
  inProcessMaxBytes: number;
}

export type KeptEntry = readonly [key: string, value: string];

export interface KeptPerUser {
  /**
   * Keeps one user's entries for `ttlMs`, all or none: false when the user is past their
   * bound (cluster). `again`: entries kept before, written again to last longer, which count
   * for nothing; one no longer kept (expired, deleted) is not written back.
   */
  put(userId: string, entries: readonly KeptEntry[], ttlMs: number, again?: boolean): Promise<boolean>;
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  delete(keys: readonly string[]): Promise<void>;
}

const HOUR_MS = 60 * 60 * 1000;
/** Embedded: the share of the memory bound one user may hold. */
const IN_PROCESS_USER_SHARE = 0.5;

export function createKeptPerUser(coordination: Coordination, limits: KeptPerUserLimits): KeptPerUser {
  return coordination.kind === "memory" ? inProcess(limits) : shared(coordination, limits);
}

function shared(coordination: Coordination, limits: KeptPerUserLimits): KeptPerUser {
  return {
    async put(userId, entries, ttlMs, again = false) {
      const chars = charsOf(entries);
      if (chars === 0) return true;
      if (again) {
        // Only what is still kept: a value deleted meanwhile stays deleted.
        await Promise.all(entries.map(([key, value]) => coordination.setIfPresent(key, value, { ttlMs })));
        return true;
      }
      // Counted before writing, in a window that starts with the user's first value of the hour.
      const used = await coordination.incr(`${limits.counter}:${userId}`, chars, { ttlMs: HOUR_MS });
      if (used > limits.sharedMaxCharsPerUserHour) return false;
      await Promise.all(entries.map(([key, value]) => coordination.set(key, value, { ttlMs })));
      return true;
    },
    getMany: (keys) => coordination.getMany(keys),
    async delete(keys) {
      await Promise.all(keys.map((key) => coordination.del(key)));
    },
  };
}

interface Held {
  userId: string;
  value: string;
}

/** One user's values in process: each key's size, oldest first, and their sum. */
interface Holding {
  sizes: Map<string, number>;
  bytes: number;
}

function inProcess(limits: KeptPerUserLimits): KeptPerUser {
  const userMaxBytes = limits.inProcessMaxBytes * IN_PROCESS_USER_SHARE;
  const held = new Map<string, Holding>();
  /** The user a put is counting for: their record stays while it runs, even when empty. */
  let putting: string | undefined;
  const cache = new LRUCache<string, Held>({
    maxSize: limits.inProcessMaxBytes,
    sizeCalculation: (entry, key) => bytesOf(key, entry.value),
    // Whatever takes a value out (evicted, replaced, deleted, expired) gives its room back.
    dispose: (entry, key) => {
      const mine = held.get(entry.userId);
      const size = mine?.sizes.get(key);
      if (!mine || size === undefined) return;
      mine.sizes.delete(key);
      mine.bytes -= size;
      if (mine.sizes.size === 0 && putting !== entry.userId) held.delete(entry.userId);
    },
  });

  /** Makes `room` bytes within the user's half: their expired values first, then their oldest (never those in `keep`). */
  function makeRoom(mine: Holding, room: number, keep: ReadonlySet<string>): void {
    for (const live of [false, true]) {
      for (const key of mine.sizes.keys()) {
        if (mine.bytes + room <= userMaxBytes) return;
        if (!keep.has(key) && (live || !cache.has(key))) cache.delete(key);
      }
    }
  }

  return {
    put(userId, entries, ttlMs, again = false) {
      const fresh = again ? entries.filter(([key]) => cache.has(key)) : entries;
      if (fresh.reduce((n, [key, value]) => n + bytesOf(key, value), 0) > userMaxBytes) return Promise.resolve(false);
      if (fresh.length === 0) return Promise.resolve(true);
      const mine = held.get(userId) ?? { sizes: new Map<string, number>(), bytes: 0 };
      held.set(userId, mine);
      putting = userId;
      try {
        // A value replaced gives its own room back: only the difference is needed.
        const room = fresh.reduce((n, [key, value]) => n + bytesOf(key, value) - (mine.sizes.get(key) ?? 0), 0);
        makeRoom(mine, room, new Set(fresh.map(([key]) => key)));
        for (const [key, value] of fresh) {
          cache.set(key, { userId, value }, { ttl: ttlMs });
          mine.sizes.set(key, bytesOf(key, value));
          mine.bytes += bytesOf(key, value);
        }
      } finally {
        putting = undefined;
        if (mine.sizes.size === 0) held.delete(userId);
      }
      return Promise.resolve(true);
    },
    getMany: (keys) => Promise.resolve(keys.map((key) => cache.get(key)?.value ?? null)),
    delete(keys) {
      for (const key of keys) cache.delete(key);
      return Promise.resolve();
    },
  };
}

const charsOf = (entries: readonly KeptEntry[]) => entries.reduce((n, [key, value]) => n + key.length + value.length, 0);
const bytesOf = (key: string, value: string) => 2 * (key.length + value.length);
