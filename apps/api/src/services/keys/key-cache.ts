/**
 * API keys held locally, by hash, so authenticating a key costs no database or Redis round
 * trip. A key is loaded from PostgreSQL on first use, and at most MAX_HELD are held (the
 * oldest loaded gives way; it is read again when next used, and until then only a pushed
 * change, not the resync, ends what it authorized); every change that can end or narrow
 * a key (revoke, update) is pushed to every instance
 * through coordination and drops the cached entry, and a background resync re-reads every
 * cached key, which catches rows changed behind Switchboard's back. The owner's state
 * (deleted, disabled, role) comes from the user directory that also checks access tokens.
 * Listeners (`onChanged`) hear of every change seen here (made here, pushed, found by the
 * resync, or everything after a reconnect), so what a key authorized can end with it.
 *
 * Policy when a connection is lost (a revoked key must never get through):
 * - Redis down: pushes may be missed, so an entry is trusted only for DEGRADED_TRUST_MS
 *   after it was read from PostgreSQL; older entries are re-read on use. On reconnect the
 *   whole cache is dropped (a push may have been lost while the connection was down).
 * - PostgreSQL down too: entries that need a re-read cannot be verified and the key is
 *   refused. PostgreSQL down alone: revocations cannot be written either, so cached entries
 *   (kept fresh by pushes) stay valid; unknown keys are refused.
 */
import type { TBudgetPeriod, TKeyScope, TRole } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { createAnnouncer } from "../../infra/announcer.ts";
import { followChannel } from "../../infra/channel-follower.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { KeyGrant } from "./key-grant.ts";

export const KEYS_CHANNEL = "keys:changed";
/** How long an entry is trusted without a re-read while pushes cannot arrive. */
export const DEGRADED_TRUST_MS = 1000;
const RESYNC_INTERVAL_MS = 5000;
/** Unknown hashes remembered (cannot become valid: a new key has a new random secret). */
const MAX_NEGATIVE = 10_000;
/** Keys held: what one instance keeps in memory and re-reads every resync, whatever the number of keys used. */
const MAX_HELD = 10_000;
/** Hashes per resync query (each is a bound parameter). */
const RESYNC_CHUNK = 1000;

export type KeyChange = { keyId: string } | { userId: string } | { all: true };

interface Entry {
  /** Null for a key that exists but is refused (revoked, owner disabled). */
  grant: KeyGrant | null;
  loadedAt: number;
}

type Row = {
  id: string;
  userId: string;
  scopes: string[];
  models: string[];
  tags: string[];
  rateLimitPerMin: number | null;
  budgetUsd: number | null;
  budgetPeriod: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  keyHash: string;
  user: { email: string; role: TRole };
};

const SELECT = {
  id: true,
  userId: true,
  scopes: true,
  models: true,
  tags: true,
  rateLimitPerMin: true,
  budgetUsd: true,
  budgetPeriod: true,
  expiresAt: true,
  revokedAt: true,
  keyHash: true,
  user: { select: { email: true, role: true } },
} as const;

/** Owner liveness and role are checked by the caller against the user directory. */
function grantOf(row: Row): KeyGrant | null {
  if (row.revokedAt !== null) return null;
  return {
    keyId: row.id,
    userId: row.userId,
    email: row.user.email,
    role: row.user.role,
    scopes: row.scopes as TKeyScope[],
    models: row.models,
    tags: row.tags,
    rateLimitPerMin: row.rateLimitPerMin,
    budgetUsd: row.budgetUsd,
    budgetPeriod: row.budgetPeriod as TBudgetPeriod,
    expiresAtMs: row.expiresAt?.getTime() ?? null,
  };
}

export interface KeyCacheDeps {
  prisma: PrismaClient;
  coordination: Coordination;
  log: (msg: string, err?: unknown) => void;
  resyncIntervalMs?: number;
  /** MAX_HELD unless given (tests). */
  maxHeld?: number;
}

export function createKeyCache(deps: KeyCacheDeps) {
  const { prisma, coordination } = deps;
  /** By hash: usable keys and refused (revoked/disabled) ones. */
  const entries = new Map<string, Entry>();
  const negatives = new Set<string>();
  const loading = new Map<string, Promise<Entry>>();
  /** Bumped by every push and reconnect: a load that started before one is not stored. */
  let generation = 0;
  let stopFollowing: (() => Promise<void>) | undefined;
  const changes = createAnnouncer<KeyChange>((err) => deps.log("an API key change listener failed", err));
  const maxHeld = deps.maxHeld ?? MAX_HELD;

  /** Holds a freshly loaded entry; past the bound, the one loaded longest ago gives way. */
  function hold(hash: string, entry: Entry): void {
    entries.delete(hash);
    if (entries.size >= maxHeld) entries.delete(entries.keys().next().value!);
    entries.set(hash, entry);
  }

  function forget(change: KeyChange): void {
    changes.announce(change);
    generation += 1;
    // A read still under way began before the change: the lookups waiting on it may take its
    // answer, but a later one reads again (a key revoked now is not let through by a read
    // that saw it before).
    loading.clear();
    if ("all" in change) {
      entries.clear();
      return;
    }
    for (const [hash, entry] of entries) {
      const g = entry.grant;
      if (g === null || ("keyId" in change ? g.keyId === change.keyId : g.userId === change.userId)) entries.delete(hash);
    }
  }

  async function load(hash: string): Promise<Entry> {
    const pending = loading.get(hash);
    if (pending) return pending;
    const started = generation;
    const promise = (async () => {
      const row = (await prisma.apiKey.findUnique({ where: { keyHash: hash }, select: SELECT })) as Row | null;
      const entry: Entry = { grant: row ? grantOf(row) : null, loadedAt: Date.now() };
      if (!row) {
        if (negatives.size >= MAX_NEGATIVE) negatives.delete(negatives.values().next().value!);
        negatives.add(hash);
      } else if (started === generation) {
        hold(hash, entry);
      }
      return entry;
    })().finally(() => {
      if (loading.get(hash) === promise) loading.delete(hash);
    });
    loading.set(hash, promise);
    return promise;
  }

  /** The key's grant, or null for an unknown, revoked, expired or disowned key. Throws when it cannot be verified. */
  async function lookup(hash: string): Promise<KeyGrant | null> {
    if (negatives.has(hash)) return null;
    let entry = entries.get(hash);
    if (entry && coordination.state() === "degraded" && Date.now() - entry.loadedAt > DEGRADED_TRUST_MS) entry = undefined;
    entry ??= await load(hash);
    const grant = entry.grant;
    if (grant === null) return null;
    if (grant.expiresAtMs !== null && grant.expiresAtMs <= Date.now()) return null;
    return grant;
  }

  /** Re-reads every held key, RESYNC_CHUNK per query (catches changes made directly in the database). */
  let resyncing = false;
  async function resync(): Promise<void> {
    // On a slow database one pass may outlast the interval: never two at once.
    if (resyncing) return;
    resyncing = true;
    try {
      const all = [...entries.keys()];
      for (let i = 0; i < all.length; i += RESYNC_CHUNK) await resyncSome(all.slice(i, i + RESYNC_CHUNK));
    } finally {
      resyncing = false;
    }
  }

  async function resyncSome(hashes: string[]): Promise<void> {
    const started = generation;
    const rows = (await prisma.apiKey.findMany({ where: { keyHash: { in: hashes } }, select: SELECT })) as Row[];
    if (started !== generation) return;
    const byHash = new Map(rows.map((r) => [r.keyHash, r]));
    const now = Date.now();
    for (const hash of hashes) {
      const row = byHash.get(hash);
      const held = entries.get(hash)?.grant;
      const grant = row ? grantOf(row) : null;
      // Only entries still held (one may have given way meanwhile): set() keeps their place in line.
      if (row && entries.has(hash)) entries.set(hash, { grant, loadedAt: now });
      else entries.delete(hash);
      // Revoked or deleted behind Switchboard's back.
      if (held && !grant) changes.announce({ keyId: held.keyId });
    }
  }

  return {
    lookup,
    forget,
    /** Calls `listener` with each change seen here (see above); returns the unsubscribe. */
    onChanged: changes.listen,
    /** Tells every instance (this one included) to drop what it holds about a key or user. */
    async publish(change: KeyChange): Promise<void> {
      forget(change);
      try {
        await coordination.publish(KEYS_CHANNEL, JSON.stringify(change));
      } catch (err) {
        // Redis down: the change is in PostgreSQL already, and while pushes cannot arrive
        // every instance re-reads a held key after DEGRADED_TRUST_MS (and drops all on reconnect).
        deps.log("could not push an API key change; peers re-read keys while coordination is down", err);
      }
    },
    async start(): Promise<void> {
      stopFollowing = await followChannel(coordination, {
        channel: KEYS_CHANNEL,
        onMessage(message) {
          try {
            forget(JSON.parse(message) as KeyChange);
          } catch {
            forget({ all: true });
          }
        },
        onReconnect: () => forget({ all: true }),
        resync: {
          intervalMs: deps.resyncIntervalMs ?? RESYNC_INTERVAL_MS,
          run: () => void resync().catch((err: unknown) => deps.log("api key resync failed", err)),
        },
      });
    },
    async close(): Promise<void> {
      changes.clear();
      await stopFollowing?.();
    },
    /** For tests and the bench. */
    size: () => entries.size,
  };
}

export type KeyCache = ReturnType<typeof createKeyCache>;
