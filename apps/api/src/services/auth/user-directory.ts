/**
 * Who may still act, known locally: each instance keeps the role and disabled flag of the
 * users that recently sent requests, so authenticating a request costs no database or Redis
 * round trip. A user removed, disabled or re-roled is refused on every instance:
 * - at once on the instance that made the change, and within milliseconds on the others
 *   (a push on a coordination channel drops the cached entry);
 * - within `refreshIntervalMs` in any case, because every instance re-reads its cached
 *   users in the background — which also catches rows deleted or edited directly in the
 *   database, and changes whose push was lost while Redis was unreachable.
 * A user not cached yet (first request on this instance) is read once; concurrent requests
 * share the read, unless a change to the user is heard while it is under way: later requests
 * then read again, and the earlier read is not kept. Listeners (`onChanged`) hear of every such change seen here (made here,
 * pushed, or found by the refresh), so what the user's credentials authorized can end too.
 */
import type { TBudgetPeriod, TRole } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { createAnnouncer } from "../../infra/announcer.ts";
import { followChannel } from "../../infra/channel-follower.ts";
import type { Coordination } from "../../infra/coordination/port.ts";

export interface LiveUser {
  role: TRole;
  disabled: boolean;
  /** The user's spending cap over all metered calls (null = none), enforced like a key's. */
  budgetUsd: number | null;
  budgetPeriod: TBudgetPeriod;
}

const LIVE_SELECT = { role: true, disabled: true, budgetUsd: true, budgetPeriod: true } as const;
const toLive = (r: { role: TRole; disabled: boolean; budgetUsd: number | null; budgetPeriod: string }): LiveUser => ({
  role: r.role,
  disabled: r.disabled,
  budgetUsd: r.budgetUsd,
  budgetPeriod: r.budgetPeriod as TBudgetPeriod,
});

interface Entry {
  /** Null: the user does not exist (a deleted user's tokens are answered without a read). */
  user: LiveUser | null;
  lastUsedMs: number;
}

export const USER_DIRECTORY_REFRESH_MS = 2_000;
/** Entries not used for this long are dropped; the next request reads the user again. */
const IDLE_EVICT_MS = 15 * 60_000;
const MAX_ENTRIES = 100_000;
const READ_CHUNK = 1_000;
const CHANNEL = "auth:user-changed";

export function createUserDirectory(deps: {
  prisma: PrismaClient;
  coordination: Coordination;
  refreshIntervalMs?: number | undefined;
  log?: ((msg: string, err?: unknown) => void) | undefined;
}) {
  const { prisma } = deps;
  const entries = new Map<string, Entry>();
  const pending = new Map<string, Promise<LiveUser | null>>();
  let stopFollowing: (() => Promise<void>) | undefined;
  let failing = false;
  const changes = createAnnouncer<string>((error) => deps.log?.("user directory: a listener failed", error));

  async function read(userId: string): Promise<LiveUser | null> {
    const row = await prisma.user.findUnique({ where: { id: userId }, select: LIVE_SELECT });
    return row ? toLive(row) : null;
  }

  function remember(userId: string, user: LiveUser | null): void {
    if (entries.size >= MAX_ENTRIES && !entries.has(userId)) entries.delete(entries.keys().next().value!);
    entries.set(userId, { user, lastUsedMs: Date.now() });
  }

  /** The user's live state; null when the user no longer exists. */
  async function get(userId: string): Promise<LiveUser | null> {
    const hit = entries.get(userId);
    if (hit) {
      hit.lastUsedMs = Date.now();
      return hit.user;
    }
    const inFlight = pending.get(userId) ?? readAndRemember(userId);
    const user = await inFlight;
    const held = entries.get(userId);
    if (held) held.lastUsedMs = Date.now();
    return user;
  }

  /**
   * Reads a user for the lookups that wait on it, and keeps the answer unless the user changed
   * meanwhile (forget): a read that began before a change may answer the lookups made before it,
   * never the ones made after (they read again), nor be kept.
   */
  function readAndRemember(userId: string): Promise<LiveUser | null> {
    const inFlight: Promise<LiveUser | null> = read(userId)
      .then((user) => {
        if (pending.get(userId) === inFlight) remember(userId, user);
        return user;
      })
      .finally(() => {
        if (pending.get(userId) === inFlight) pending.delete(userId);
      });
    pending.set(userId, inFlight);
    return inFlight;
  }

  /** A change to the user was heard: what was held, or is being read, is no longer theirs. */
  function forget(userId: string): void {
    entries.delete(userId);
    pending.delete(userId);
    changes.announce(userId);
  }

  /**
   * Re-reads every cached user in the background (deleted rows become "gone"). Each answer
   * updates only the entry it was read for: a user changed meanwhile was forgotten, and what a
   * later lookup kept of them (read after the change) is newer than this read and stands.
   */
  async function refresh(): Promise<void> {
    const now = Date.now();
    for (const [id, entry] of entries) if (now - entry.lastUsedMs > IDLE_EVICT_MS) entries.delete(id);
    const snapshot = [...entries];
    try {
      for (let i = 0; i < snapshot.length; i += READ_CHUNK) {
        const chunk = snapshot.slice(i, i + READ_CHUNK);
        const ids = chunk.map(([id]) => id);
        const rows = await prisma.user.findMany({ where: { id: { in: ids } }, select: { id: true, ...LIVE_SELECT } });
        const found = new Map(rows.map((r) => [r.id, toLive(r)]));
        for (const [id, entry] of chunk) {
          // Forgotten (and perhaps read again and kept as a new entry) since the read began.
          if (entries.get(id) !== entry) continue;
          const before = entry.user;
          entry.user = found.get(id) ?? null;
          if (mayActDifferently(before, entry.user)) changes.announce(id);
        }
      }
      if (failing) deps.log?.("user directory: database reachable again");
      failing = false;
    } catch (error) {
      // Keep the last known state; the disabled and deleted users in it stay refused.
      if (!failing) deps.log?.("user directory: refresh failed; keeping the last known state", error);
      failing = true;
    }
  }

  return {
    get,

    async start(): Promise<void> {
      stopFollowing = await followChannel(deps.coordination, {
        channel: CHANNEL,
        onMessage: forget,
        onReconnect: () => void refresh(),
        resync: { intervalMs: deps.refreshIntervalMs ?? USER_DIRECTORY_REFRESH_MS, run: () => void refresh() },
      });
    },

    /** Call after changing or deleting a user: every instance forgets what it knew. */
    async changed(userId: string): Promise<void> {
      forget(userId);
      try {
        await deps.coordination.publish(CHANNEL, userId);
      } catch (error) {
        deps.log?.("user directory: publish failed; peers will see the change on their next refresh", error);
      }
    },

    /**
     * Reads the user from the database now, whatever is cached (e.g. after a request failed
     * on a missing row). A failed read keeps what was known: a database that cannot answer
     * must not turn a signed-in caller into a stranger.
     */
    async reread(userId: string): Promise<LiveUser | null> {
      const user = await read(userId);
      remember(userId, user);
      return user;
    },

    refresh,

    /** Calls `listener` with the id of each user changed (see above); returns the unsubscribe. */
    onChanged: changes.listen,

    async close(): Promise<void> {
      changes.clear();
      await stopFollowing?.();
    },
  };
}

/** Deleted, disabled or re-roled: what the user may do is no longer what it was. */
function mayActDifferently(before: LiveUser | null, after: LiveUser | null): boolean {
  if (before === null || after === null) return before !== after;
  return before.role !== after.role || before.disabled !== after.disabled;
}

export type UserDirectory = ReturnType<typeof createUserDirectory>;
