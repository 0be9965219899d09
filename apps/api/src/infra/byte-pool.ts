/**
 * A budget of bytes held in memory at once per instance, taken and given back by whoever
 * holds them: large request bodies (http/body-limits.ts) and whole upstream answers
 * (providers/upstream-answer-room.ts). Taking never waits: a request that finds no room is
 * refused at once and retried, so memory stays bounded and no caller queues behind a slow
 * holder. It only counts; what a refusal means to a caller (503, 429) is each user's to say.
 */

/** Why bytes were not taken: the whole pool is held, or this holder's share of it is. */
export type BytePoolRefusal = "pool_full" | "share_full";

export interface BytePool {
  /** Takes `bytes` for `holder`; the refusal when the pool, or the holder's share of it, cannot hold them. */
  take(bytes: number, holder?: string): BytePoolRefusal | undefined;
  giveBack(bytes: number, holder?: string): void;
  /** Bytes not held now. */
  readonly free: number;
}

/** Holders not named share the pool as one anonymous holder, without a share of their own. */
const ANONYMOUS = "";

/**
 * @param sharePerHolder how many of the bytes one named holder may hold at once (the whole
 *   pool when unset).
 */
export function createBytePool(size: number, sharePerHolder = size): BytePool {
  let free = size;
  const heldBy = new Map<string, number>();
  return {
    take(bytes, holder = ANONYMOUS) {
      const held = heldBy.get(holder) ?? 0;
      if (holder !== ANONYMOUS && held + bytes > sharePerHolder) return "share_full";
      if (bytes > free) return "pool_full";
      free -= bytes;
      heldBy.set(holder, held + bytes);
      return undefined;
    },
    giveBack(bytes, holder = ANONYMOUS) {
      free += bytes;
      const held = (heldBy.get(holder) ?? 0) - bytes;
      if (held > 0) heldBy.set(holder, held);
      else heldBy.delete(holder);
    },
    get free() {
      return free;
    },
  };
}
