import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createRevocationSet, type RevocationSet } from "../../infra/revocation-set.ts";

/**
 * Revoked sessions (logout, refresh-token reuse, password reset), known to every instance
 * without a round trip per request: a revocation set fed by pushes and by the sessions'
 * `revokedAt` in the database. An entry is kept as long as an access token of the session
 * could still be valid.
 */
export function createSessionRevocations(deps: {
  prisma: PrismaClient;
  coordination: Coordination;
  accessTtlSec: number;
  resyncIntervalMs?: number | undefined;
  log?: (msg: string, err?: unknown) => void;
}) {
  const keepMs = (deps.accessTtlSec + 60) * 1000;
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

  return {
    start: () => set.start(),
    close: () => set.close(),
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
