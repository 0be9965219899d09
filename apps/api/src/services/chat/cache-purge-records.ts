/**
 * PostgreSQL side of response-cache purges: one row per purge that took effect — who asked
 * (signed in, or with which API key), whose answers, and the purge time that holds — read
 * back newest first for operators (`cache.purges`).
 */
import type { TCachePurgesPage } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { keyNamesOf } from "../../infra/key-names.ts";
import { cursorPage } from "../cursor-page.ts";

/** Who purged: the user, and the API key they came with (none when signed in). */
export interface PurgeActor {
  id: string;
  email: string;
  keyId: string | undefined;
}

export interface PurgeRecord {
  actor: PurgeActor;
  whose: { userId: string } | "everyone";
  /** The purge time that holds (the cache's answer). */
  purgedAt: Date;
}

const DAY_MS = 86_400_000;

/**
 * `ownKeptDays`: how long a user's purge of their own answers is kept (the request log's
 * retention). Any user may purge their own as often as they like, and those records must not
 * grow for good; an ADMIN's purge of another user's or everyone's answers is kept for good,
 * as the configuration's and the emergency stop's records are.
 */
export function createCachePurgeRecords(prisma: PrismaClient, opts: { ownKeptDays: number }) {
  /**
   * Writes one purge. Whose email is kept as it is now, so the record still reads after the
   * account is gone (the actor's comes with the request). A user's own purges past their
   * keeping are dropped as they write another (the index on createdAt finds them).
   */
  async function record({ actor, whose, purgedAt }: PurgeRecord): Promise<void> {
    const userId = whose === "everyone" ? null : whose.userId;
    const own = userId === actor.id;
    const userEmail = userId === null ? null : own ? actor.email : ((await prisma.user.findUnique({ where: { id: userId }, select: { email: true } }))?.email ?? null);
    await prisma.cachePurge.create({
      data: { actorId: actor.id, actorEmail: actor.email, actorKeyId: actor.keyId ?? null, userId, userEmail, everyone: userId === null, purgedAt },
    });
    if (own) await prisma.cachePurge.deleteMany({ where: { actorId: actor.id, userId: actor.id, createdAt: { lt: new Date(Date.now() - opts.ownKeptDays * DAY_MS) } } });
  }

  /** Purges, newest first; each names the API key it came with, by its current name. */
  async function list(input: { cursor?: string | undefined; limit: number }): Promise<TCachePurgesPage> {
    const { items, nextCursor } = await cursorPage(prisma.cachePurge, input, (window) =>
      prisma.cachePurge.findMany({ orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...window }),
    );
    const keyName = await keyNamesOf(prisma, items);
    return {
      items: items.map((r) => ({
        id: r.id,
        actorId: r.actorId,
        actorEmail: r.actorEmail,
        via: r.actorKeyId ? "key" : "session",
        actorKeyId: r.actorKeyId,
        actorKeyName: r.actorKeyId ? (keyName.get(r.actorKeyId) ?? null) : null,
        userId: r.userId,
        userEmail: r.userEmail,
        everyone: r.everyone,
        purgedAt: r.purgedAt.toISOString(),
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor,
    };
  }

  return { record, list };
}

export type CachePurgeRecords = ReturnType<typeof createCachePurgeRecords>;
