/**
 * Counts open long-lived streams on this instance so no caller can hold unbounded sockets
 * and memory: per signed-in user, per anonymous client IP, and overall. In memory on
 * purpose: a stream's socket lives on one instance, and the count must be exact at once.
 */
export interface StreamSlotLimits {
  perUser: number;
  perAnonymousIp: number;
  total: number;
}

export type StreamOwner = { kind: "user"; id: string } | { kind: "ip"; ip: string };

export type Acquired = { ok: true; release: () => void } | { ok: false; reason: "owner" | "total" };

export interface StreamSlots {
  acquire(owner: StreamOwner): Acquired;
  /** Open streams now (all owners). */
  open(): number;
}

export function createStreamSlots(limits: StreamSlotLimits): StreamSlots {
  const byOwner = new Map<string, number>();
  let total = 0;
  return {
    acquire(owner) {
      const key = owner.kind === "user" ? `u:${owner.id}` : `ip:${owner.ip}`;
      const cap = owner.kind === "user" ? limits.perUser : limits.perAnonymousIp;
      const mine = byOwner.get(key) ?? 0;
      if (mine >= cap) return { ok: false, reason: "owner" };
      if (total >= limits.total) return { ok: false, reason: "total" };
      byOwner.set(key, mine + 1);
      total += 1;
      let released = false;
      return {
        ok: true,
        release() {
          if (released) return;
          released = true;
          total -= 1;
          const left = (byOwner.get(key) ?? 1) - 1;
          if (left <= 0) byOwner.delete(key);
          else byOwner.set(key, left);
        },
      };
    },
    open: () => total,
  };
}
