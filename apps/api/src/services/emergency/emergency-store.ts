/**
 * PostgreSQL side of the emergency stop: the single "current" state row (the source of
 * truth, ordered by its `version` column) and the append-only audit trail. Every change is
 * one atomic statement that updates the row and writes its audit row, so two SuperAdmins
 * acting at once serialise on the row lock and both end up audited.
 */
import type { TEmergencyEvent, TEmergencyScope, TEmergencyStatus } from "@switchboard/schema";
import { ZEmergencyScope } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { cursorPage } from "../cursor-page.ts";
import { inactiveState } from "./policy.ts";

const ROW_ID = "current";

export interface Actor {
  id: string;
  email: string;
}

export interface FreezeRecord {
  scope: TEmergencyScope;
  reason: string;
  /** Auto-unfreeze after this many seconds; null for never. */
  expiresInSec: number | null;
  actor: Actor;
  instanceId: string;
}

export interface ChangeOutcome {
  state: TEmergencyStatus;
  /** The audit row written, or null when nothing changed. */
  eventId: string | null;
}

type Row = {
  active: boolean;
  scope: string;
  reason: string | null;
  activatedAt: Date | null;
  activatedBy: string | null;
  expiresAt: Date | null;
  version: number;
};

function toStatus(row: Row | null): TEmergencyStatus {
  if (!row) return inactiveState(0);
  if (!row.active) return inactiveState(row.version);
  // A scope written by a newer release we do not know yet is treated as the widest one.
  const scope = ZEmergencyScope.safeParse(row.scope);
  return {
    active: true,
    scope: scope.success ? scope.data : "global",
    reason: row.reason,
    activatedAt: row.activatedAt?.toISOString() ?? null,
    activatedBy: row.activatedBy,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    version: row.version,
  };
}

export function createEmergencyStore(prisma: PrismaClient) {
  async function load(): Promise<TEmergencyStatus> {
    return toStatus(await prisma.emergencyState.findUnique({ where: { id: ROW_ID } }));
  }

  /**
   * Upserts the row (version + 1) and writes the audit row in ONE statement: atomic on its
   * own, serialised by the row lock, and a single round trip on the propagation's critical
   * path (an interactive transaction costs four). Times come from the database clock, in
   * UTC like every timestamp Prisma writes.
   */
  async function freeze(r: FreezeRecord): Promise<ChangeOutcome> {
    const rows = await prisma.$queryRaw<Array<Row & { eventId: string }>>`
      WITH clock AS (SELECT (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') AS at),
      state AS (
        INSERT INTO "EmergencyState" ("id", "active", "scope", "reason", "activatedAt", "activatedBy", "expiresAt", "version", "updatedAt")
        SELECT ${ROW_ID}, true, ${r.scope}, ${r.reason}, clock.at, ${r.actor.email},
               clock.at + make_interval(secs => ${r.expiresInSec}::double precision), 1, clock.at
        FROM clock
        ON CONFLICT ("id") DO UPDATE SET
          "active" = true, "scope" = EXCLUDED."scope", "reason" = EXCLUDED."reason",
          "activatedAt" = EXCLUDED."activatedAt", "activatedBy" = EXCLUDED."activatedBy",
          "expiresAt" = EXCLUDED."expiresAt", "version" = "EmergencyState"."version" + 1,
          "updatedAt" = EXCLUDED."updatedAt"
        RETURNING *
      ),
      event AS (
        INSERT INTO "EmergencyEvent" ("id", "action", "scope", "reason", "actorId", "actorEmail", "instanceId", "expiresAt", "createdAt")
        SELECT gen_random_uuid()::text, 'freeze', state."scope", state."reason", ${r.actor.id}, ${r.actor.email},
               ${r.instanceId}, state."expiresAt", state."activatedAt"
        FROM state
        RETURNING "id"
      )
      SELECT state.*, event."id" AS "eventId" FROM state, event`;
    const row = rows[0];
    if (!row) throw new Error("emergency freeze returned no row");
    return { state: toStatus(row), eventId: row.eventId };
  }

  /**
   * Ends the current freeze, in one statement like freeze. Conditional on it being active
   * (and, for an expiry, on it still being the freeze that expired): under the row lock a
   * repeated or racing call matches nothing, so it changes nothing and audits nothing.
   */
  async function unfreeze(r: {
    action: "unfreeze" | "expire";
    reason: string | null;
    actor: Actor | null;
    instanceId: string;
    onlyVersion?: number;
  }): Promise<ChangeOutcome> {
    const onlyVersion = r.onlyVersion ?? null;
    const rows = await prisma.$queryRaw<Array<Row & { eventId: string }>>`
      WITH clock AS (SELECT (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') AS at),
      state AS (
        UPDATE "EmergencyState" SET
          "active" = false, "reason" = NULL, "activatedAt" = NULL, "activatedBy" = NULL, "expiresAt" = NULL,
          "version" = "EmergencyState"."version" + 1, "updatedAt" = clock.at
        FROM clock
        WHERE "id" = ${ROW_ID} AND "active"
          AND (${onlyVersion}::integer IS NULL OR "version" = ${onlyVersion}::integer)
        RETURNING "EmergencyState".*
      ),
      event AS (
        INSERT INTO "EmergencyEvent" ("id", "action", "scope", "reason", "actorId", "actorEmail", "instanceId", "createdAt")
        SELECT gen_random_uuid()::text, ${r.action}, state."scope", ${r.reason}, ${r.actor?.id ?? null}, ${r.actor?.email ?? null},
               ${r.instanceId}, clock.at
        FROM state, clock
        RETURNING "id"
      )
      SELECT state.*, event."id" AS "eventId" FROM state, event`;
    const row = rows[0];
    // Nothing matched: already unfrozen (or superseded); report the current truth.
    if (!row) return { state: await load(), eventId: null };
    return { state: toStatus(row), eventId: row.eventId };
  }

  /** Records how many instances acknowledged a change (known only after the answer wait). */
  async function recordAcks(eventId: string, acks: number): Promise<void> {
    await prisma.emergencyEvent.update({ where: { id: eventId }, data: { acks } });
  }

  async function history(input: { cursor?: string | undefined; limit: number }): Promise<{ items: TEmergencyEvent[]; nextCursor: string | null }> {
    const { items, nextCursor } = await cursorPage(prisma.emergencyEvent, input, (window) =>
      // Newest first in the order the changes were made (the row lock's order): two at once may
      // share a millisecond, and a statement's time is when it began, not when it got the lock.
      prisma.emergencyEvent.findMany({ orderBy: [{ seq: "desc" }], ...window }),
    );
    return {
      items: items.map((e) => ({
        id: e.id,
        action: e.action as TEmergencyEvent["action"],
        scope: e.scope,
        reason: e.reason,
        actorId: e.actorId,
        actorEmail: e.actorEmail,
        instanceId: e.instanceId,
        acks: e.acks,
        expiresAt: e.expiresAt?.toISOString() ?? null,
        createdAt: e.createdAt.toISOString(),
      })),
      nextCursor,
    };
  }

  return { load, freeze, unfreeze, recordAcks, history };
}

export type EmergencyStore = ReturnType<typeof createEmergencyStore>;
