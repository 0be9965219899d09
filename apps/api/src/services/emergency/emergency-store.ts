/**
 * PostgreSQL side of the emergency stop: the single "current" state row (the source of
 * truth, ordered by its `version` column) and the append-only audit trail. Every change is
 * one transaction that updates the row and writes its audit row, so two SuperAdmins acting
 * at once serialise on the row lock and both end up audited.
 */
import type { TEmergencyEvent, TEmergencyScope, TEmergencyStatus } from "@switchboard/schema";
import { ZEmergencyScope } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { inactiveState } from "./policy.ts";

const ROW_ID = "current";

export interface Actor {
  id: string;
  email: string;
}

export interface FreezeRecord {
  scope: TEmergencyScope;
  reason: string;
  expiresAt: Date | null;
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

  async function freeze(r: FreezeRecord): Promise<ChangeOutcome> {
    return prisma.$transaction(async (tx) => {
      const data = {
        active: true,
        scope: r.scope,
        reason: r.reason,
        activatedAt: new Date(),
        activatedBy: r.actor.email,
        expiresAt: r.expiresAt,
      };
      // INSERT ... ON CONFLICT DO UPDATE: atomic even when the row does not exist yet.
      const row = await tx.emergencyState.upsert({
        where: { id: ROW_ID },
        create: { id: ROW_ID, ...data, version: 1 },
        update: { ...data, version: { increment: 1 } },
      });
      const event = await tx.emergencyEvent.create({
        data: {
          action: "freeze",
          scope: r.scope,
          reason: r.reason,
          actorId: r.actor.id,
          actorEmail: r.actor.email,
          instanceId: r.instanceId,
          expiresAt: r.expiresAt,
        },
      });
      return { state: toStatus(row), eventId: event.id };
    });
  }

  /**
   * Ends the current freeze. Conditional on it being active (and, for an expiry, on it
   * still being the freeze that expired), so repeating it or racing it changes nothing and
   * writes no second audit row.
   */
  async function unfreeze(r: {
    action: "unfreeze" | "expire";
    reason: string | null;
    actor: Actor | null;
    instanceId: string;
    onlyVersion?: number;
  }): Promise<ChangeOutcome> {
    return prisma.$transaction(async (tx) => {
      // Lock the row first so the scope we audit is the one we lift (READ COMMITTED would
      // otherwise let a concurrent freeze slip in between the read and the update).
      await tx.$queryRaw`SELECT 1 FROM "EmergencyState" WHERE id = ${ROW_ID} FOR UPDATE`;
      const current = await tx.emergencyState.findUnique({ where: { id: ROW_ID } });
      const applies = current?.active === true && (r.onlyVersion === undefined || current.version === r.onlyVersion);
      if (!current || !applies) return { state: toStatus(current), eventId: null };
      const row = await tx.emergencyState.update({
        where: { id: ROW_ID },
        data: { active: false, reason: null, activatedAt: null, activatedBy: null, expiresAt: null, version: { increment: 1 } },
      });
      const event = await tx.emergencyEvent.create({
        data: {
          action: r.action,
          scope: current.scope,
          reason: r.reason,
          actorId: r.actor?.id ?? null,
          actorEmail: r.actor?.email ?? null,
          instanceId: r.instanceId,
        },
      });
      return { state: toStatus(row), eventId: event.id };
    });
  }

  /** Records how many instances acknowledged a change (known only after the answer wait). */
  async function recordAcks(eventId: string, acks: number): Promise<void> {
    await prisma.emergencyEvent.update({ where: { id: eventId }, data: { acks } });
  }

  async function history(input: { cursor?: string | undefined; limit: number }): Promise<{ items: TEmergencyEvent[]; nextCursor: string | null }> {
    const rows = await prisma.emergencyEvent.findMany({
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: input.limit + 1,
      ...(input.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
    });
    const page = rows.slice(0, input.limit);
    return {
      items: page.map((e) => ({
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
      nextCursor: rows.length > input.limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  return { load, freeze, unfreeze, recordAcks, history };
}

export type EmergencyStore = ReturnType<typeof createEmergencyStore>;
