/**
 * Output items of earlier Responses API answers, kept for a while so a later request can name
 * them by id (`item_reference`) instead of sending them again — what the Vercel AI SDK's
 * OpenAI provider does with earlier assistant text at its default `store: true`. Only items
 * are kept, for the user who got them and for ITEM_TTL_MS: there is no stored response to
 * retrieve or continue (`previous_response_id`), and an item older than that must be sent whole.
 * Cluster mode keeps them in the coordination store, so the next request may land on any
 * instance; the embedded default keeps them in process, bounded in bytes (the oldest go first).
 * Only what a reference is translated back into is kept, and an item over 1 MB not at all.
 */
import { LRUCache } from "lru-cache";
import type { Coordination } from "../infra/coordination/port.ts";
import { AppError } from "./errors.ts";

/** How long an item can be referred to after the answer that made it. */
export const ITEM_TTL_MS = 60 * 60 * 1000;
/** Embedded default: what the kept items may take in memory, about (two bytes a character). */
const IN_PROCESS_MAX_BYTES = 32 * 1024 * 1024;
/** An item longer than this (as kept) is not kept: a reference to it must send it whole. */
const MAX_ITEM_CHARS = 1024 * 1024;

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
      await Promise.all(keptForm(items).map(([id, value]) => coordination.set(keyOf(userId, id), value, { ttlMs: ITEM_TTL_MS })));
    },
    async find(userId, ids) {
      if (ids.length === 0) return new Map();
      const values = await coordination.getMany(ids.map((id) => keyOf(userId, id))).catch(() => {
        throw new AppError("SERVICE_UNAVAILABLE", "Earlier output items cannot be read right now (the shared store is unreachable); retry, or send the items themselves", {
          retryAfterSec: 1,
        });
      });
      return foundById(ids, values);
    },
  };
}

function inProcess(): ResponseItems {
  const cache = new LRUCache<string, string>({ maxSize: IN_PROCESS_MAX_BYTES, sizeCalculation: (value, key) => 2 * (value.length + key.length), ttl: ITEM_TTL_MS });
  return {
    keep(userId, items) {
      for (const [id, value] of keptForm(items)) cache.set(keyOf(userId, id), value);
      return Promise.resolve();
    },
    find(userId, ids) {
      return Promise.resolve(foundById(ids, ids.map((id) => cache.get(keyOf(userId, id)) ?? null)));
    },
  };
}

/**
 * Each item as kept: what a reference is translated back into (text, refusals, a call), not
 * the logprobs or annotations an answer also carried; one too long to keep is left out.
 */
function keptForm(items: readonly KeptItem[]): Array<[string, string]> {
  return items.flatMap((item) => {
    const value = JSON.stringify(item, (key, field: unknown) => (key === "logprobs" || key === "annotations" ? undefined : field));
    return value.length <= MAX_ITEM_CHARS ? [[item.id, value] as [string, string]] : [];
  });
}

function foundById(ids: readonly string[], values: ReadonlyArray<string | null>): Map<string, unknown> {
  const found = new Map<string, unknown>();
  ids.forEach((id, i) => {
    const value = values[i];
    if (!value) return;
    try {
      found.set(id, JSON.parse(value) as unknown);
    } catch {
      // Not what keep() wrote: as good as absent (the request is told to send the item).
    }
  });
  return found;
}
