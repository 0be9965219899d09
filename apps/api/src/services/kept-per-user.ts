/**
 * Values kept for a while on behalf of a user (answers to refer back to, answers to repeat),
 * where every instance can read them, each user bounded so that no one fills the room the
 * others' values need:
 * - cluster mode: in the coordination store, at most `sharedMaxCharsPerUserHour` characters
 *   written per user within an hour (the store also holds the emergency state);
 * - embedded default: in this process, `inProcessMaxBytes` in all (the least recently used go
 *   first) and at most half of it per user: a user past their half makes room from their own
 *   oldest values, never from anyone else's.
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

function inProcess(limits: KeptPerUserLimits): KeptPerUser {
  const userMaxBytes = limits.inProcessMaxBytes * IN_PROCESS_USER_SHARE;
  /** Each user's keys, oldest first, and the bytes they hold. */
  const held = new Map<string, { keys: Set<string>; bytes: number }>();
  const cache = new LRUCache<string, Held>({
    maxSize: limits.inProcessMaxBytes,
    sizeCalculation: (entry, key) => bytesOf(key, entry.value),
    // Whatever takes a value out (evicted, replaced, deleted, expired) gives its room back.
    dispose: (entry, key) => {
      const mine = held.get(entry.userId);
      if (!mine?.keys.delete(key)) return;
      mine.bytes -= bytesOf(key, entry.value);
      if (mine.keys.size === 0) held.delete(entry.userId);
    },
  });

  return {
    put(userId, entries, ttlMs, again = false) {
      const fresh = again ? entries.filter(([key]) => cache.has(key)) : entries;
      const mine = held.get(userId) ?? { keys: new Set<string>(), bytes: 0 };
      held.set(userId, mine);
      // Room from this user's own oldest values first, those being replaced included.
      const needed = fresh.reduce((n, [key, value]) => n + bytesOf(key, value), 0);
      if (needed > userMaxBytes) return Promise.resolve(false);
      for (const key of mine.keys) {
        if (mine.bytes + needed <= userMaxBytes) break;
        cache.delete(key);
      }
      for (const [key, value] of fresh) {
        cache.set(key, { userId, value }, { ttl: ttlMs });
        // An entry larger than the whole cache is refused by it: nothing to count.
        if (!cache.has(key)) continue;
        mine.keys.add(key);
        mine.bytes += bytesOf(key, value);
      }
      if (mine.keys.size === 0) held.delete(userId);
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
