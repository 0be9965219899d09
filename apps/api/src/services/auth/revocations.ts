import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createRevocationSet, type RevocationSet } from "../../infra/revocation-set.ts";

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
}) {
  const keepMs = (deps.accessTtlSec + 60) * 1000;
  // A day past their end, for whoever looks into a sign-out; never before their tokens end.
  const endedForMs = keepMs + ENDED_SESSION_KEEP_MS;
  let pruneTimer: NodeJS.Timeout | undefined;
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

  /** Deletes sessions that ended more than a day ago; returns how many. */
  async function pruneEnded(): Promise<number> {
    const before = new Date(Date.now() - endedForMs);
    const { count } = await deps.prisma.session.deleteMany({ where: { OR: [{ expiresAt: { lt: before } }, { revokedAt: { lt: before } }] } });
    return count;
  }

  return {
    async start() {
      await set.start();
      const prune = () => void pruneEnded().catch((err: unknown) => deps.log?.("pruning ended sessions failed", err));
      pruneTimer = setInterval(prune, SESSION_PRUNE_INTERVAL_MS);
      pruneTimer.unref();
      prune();
    },
    async close() {
      clearInterval(pruneTimer);
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
