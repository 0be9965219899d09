/**
 * Output items of earlier Responses API answers, kept for a while so a later request can name
 * them by id (`item_reference`) instead of sending them again — what the Vercel AI SDK's
 * OpenAI provider does with earlier assistant text at its default `store: true`. Only items
 * are kept, for the user who got them and for ITEM_TTL_MS: there is no stored response to
 * retrieve or continue (`previous_response_id`), and an item older than that must be sent whole.
 * Cluster mode keeps them in the coordination store, so the next request may land on any
 * instance; the embedded default keeps them in process, bounded in bytes (the oldest go first).
 */
import { LRUCache } from "lru-cache";
import type { Coordination } from "../infra/coordination/port.ts";

/** How long an item can be referred to after the answer that made it. */
export const ITEM_TTL_MS = 60 * 60 * 1000;
/** Embedded default: what the kept items may take in memory (JavaScript string lengths). */
const IN_PROCESS_MAX_CHARS = 32 * 1024 * 1024;

/** An output item as the answer held it (kept whole); only its id is read here. */
export interface KeptItem {
  id: string;
}

export interface ResponseItems {
  /** Keeps an answer's output items for `userId`'s later requests. */
  keep(userId: string, items: readonly KeptItem[]): Promise<void>;
  /** The kept items of `userId` with these ids, by id; an unknown or expired id is absent. */
  find(userId: string, ids: readonly string[]): Promise<Map<string, unknown>>;
}

const keyOf = (userId: string, id: string) => `resp-item:${userId}:${id}`;

export function createResponseItems(coordination: Coordination): ResponseItems {
  if (coordination.kind === "memory") return inProcess();
  return {
    async keep(userId, items) {
      await Promise.all(items.map((item) => coordination.set(keyOf(userId, item.id), JSON.stringify(item), { ttlMs: ITEM_TTL_MS })));
    },
    async find(userId, ids) {
      const values = ids.length === 0 ? [] : await coordination.getMany(ids.map((id) => keyOf(userId, id)));
      return foundById(ids, values);
    },
  };
}

function inProcess(): ResponseItems {
  const cache = new LRUCache<string, string>({ maxSize: IN_PROCESS_MAX_CHARS, sizeCalculation: (value, key) => value.length + key.length, ttl: ITEM_TTL_MS });
  return {
    keep(userId, items) {
      // An item larger than the whole budget is not kept (lru-cache refuses it).
      for (const item of items) cache.set(keyOf(userId, item.id), JSON.stringify(item));
      return Promise.resolve();
    },
    find(userId, ids) {
      return Promise.resolve(foundById(ids, ids.map((id) => cache.get(keyOf(userId, id)) ?? null)));
    },
  };
}

function foundById(ids: readonly string[], values: ReadonlyArray<string | null>): Map<string, unknown> {
  const found = new Map<string, unknown>();
  ids.forEach((id, i) => {
    const value = values[i];
    if (value) found.set(id, JSON.parse(value) as unknown);
  });
  return found;
}
