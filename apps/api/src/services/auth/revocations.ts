import type { PrismaClient } from "../../generated/prisma/client.ts";
import { deleteInBatches, PRUNE_BATCHES, type PruneBatches } from "../../infra/batched-delete.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createRevocationSet, type RevocationSet } from "../../infra/revocation-set.ts";
import { utcTimestamp } from "../../infra/sql-time.ts";

const ENDED_SESSION_KEEP_MS = 24 * 3600_000;
const SESSION_PRUNE_INTERVAL_MS = 3600_000;

/**
 * Revoked sessions (logout, refresh-token reuse, password reset), known to every instance
 * without a round trip per request: a revocation set fed by pushes and by the sessions'
 * `revokedAt` in the database. An entry is kept as long as an access token of the session
 * could still be valid.
 *
 * It also deletes, hourly, the sessions that ended (expired, or revoked) more than a day
 * ago: no token of theirs can be valid any more, and without it every sign-in would leave a
 * row behind for good.
 */
export function createSessionRevocations(deps: {
  prisma: PrismaClient;
  coordination: Coordination;
  accessTtlSec: number;
  resyncIntervalMs?: number | undefined;
  log?: (msg: string, err?: unknown) => void;
  /** How the hourly prune deletes (default PRUNE_BATCHES). */
  pruneBatches?: PruneBatches;
}) {
  const keepMs = (deps.accessTtlSec + 60) * 1000;
  // A day past their end, for whoever looks into a sign-out; never before their tokens end.
  const endedForMs = keepMs + ENDED_SESSION_KEEP_MS;
  let pruneTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let pruning: Promise<unknown> | undefined;
  const set: RevocationSet = createRevocationSet({
    coordination: deps.coordination,
    channel: "auth:revoked-sessions",
    resyncIntervalMs: deps.resyncIntervalMs,
    log: deps.log,
    async load(sinceMs) {
      const rows = await deps.prisma.session.findMany({
        where: { revokedAt: { gte: new Date(sinceMs ?? Date.now() - keepMs) } },
        select: { id: true, revokedAt: true },
      });
      return rows.map((r) => ({ id: r.id, untilMs: r.revokedAt!.getTime() + keepMs }));
    },
  });

  /**
   * Deletes sessions that ended more than a day ago, a batch at a time (batched-delete.ts);
   * returns how many. A session another statement holds (a refresh) is left to the next run.
   */
  async function pruneEnded(): Promise<number> {
    const before = utcTimestamp(new Date(Date.now() - endedForMs));
    return deleteInBatches(
      (limit) => deps.prisma.$executeRaw`DELETE FROM "Session" WHERE "id" IN (
        SELECT "id" FROM "Session" WHERE "expiresAt" < ${before} OR "revokedAt" < ${before} LIMIT ${limit}::int FOR UPDATE SKIP LOCKED)`,
      { ...(deps.pruneBatches ?? PRUNE_BATCHES), stopped: () => closed },
    );
  }

  return {
    async start() {
      await set.start();
      // One run at a time, kept so close() can wait for the batch in flight before the database closes.
      const prune = () => {
        if (pruning) return;
        pruning = pruneEnded()
          .catch((err: unknown) => void deps.log?.("pruning ended sessions failed", err))
          .finally(() => (pruning = undefined));
      };
      pruneTimer = setInterval(prune, SESSION_PRUNE_INTERVAL_MS);
      pruneTimer.unref();
      prune();
    },
    async close() {
      closed = true;
      clearInterval(pruneTimer);
      await pruning;
      await set.close();
    },
    pruneEnded,
    resync: () => set.resync(),
    isRevoked: (sessionId: string) => set.has(sessionId),
    /** Hears of every session newly revoked on this instance (here, pushed or resynced). */
    onRevoked: (listener: (sessionIds: string[]) => void) => set.onRevoked(listener),
    /** Call after the sessions' rows were marked revoked. */
    revokeSessions: (sessionIds: string[]) =>
      sessionIds.length === 0 ? Promise.resolve() : set.revoke(sessionIds.map((id) => ({ id, untilMs: Date.now() + keepMs }))),
  };
}

export type SessionRevocations = ReturnType<typeof createSessionRevocations>;
