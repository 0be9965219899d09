/**
 * Sessions that ended — expired, or revoked — more than a day (and an access token's life)
 * ago are deleted, so sign-ins do not pile up rows for good; every other session stays,
 * including one revoked just now, whose access tokens the revocation set still refuses.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase, type Database } from "../../infra/database.ts";
import { createMemoryCoordination } from "../../infra/coordination/memory.ts";
import { createSessionRevocations } from "./revocations.ts";

const HOUR = 3600_000;
let db: Database;
let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "switchboard-sessions-"));
  db = await openDatabase({ dataDir });
}, 120_000);
afterAll(async () => {
  await db?.close();
  await rm(dataDir, { recursive: true, force: true });
});

it("deletes sessions that ended more than a day ago, keeps the rest", async () => {
  const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@switchboard.test`, passwordHash: "x" } });
  const now = Date.now();
  const session = (name: string, expiresAt: number, revokedAt?: number) =>
    db.prisma.session.create({
      data: { id: randomUUID(), userId: user.id, refreshTokenHash: name + randomUUID(), expiresAt: new Date(expiresAt), ...(revokedAt ? { revokedAt: new Date(revokedAt), revokedReason: "logout" } : {}) },
    });
  const live = await session("live", now + 30 * 24 * HOUR);
  const expiredLongAgo = await session("expired long ago", now - 26 * HOUR);
  const expiredRecently = await session("expired an hour ago", now - HOUR);
  const revokedLongAgo = await session("revoked long ago", now + 24 * HOUR, now - 26 * HOUR);
  const revokedJustNow = await session("revoked just now", now + 24 * HOUR, now - 1000);

  const revocations = createSessionRevocations({ prisma: db.prisma, coordination: createMemoryCoordination(), accessTtlSec: 900 });
  try {
    await revocations.start();
    // start() prunes once; pruning again finds nothing more.
    await expect.poll(async () => (await db.prisma.session.findMany({ where: { userId: user.id } })).length).toBe(3);
    expect(await revocations.pruneEnded()).toBe(0);
    const left = (await db.prisma.session.findMany({ where: { userId: user.id }, select: { id: true } })).map((s) => s.id).sort();
    expect(left).toEqual([live.id, expiredRecently.id, revokedJustNow.id].sort());
    expect(left).not.toContain(expiredLongAgo.id);
    expect(left).not.toContain(revokedLongAgo.id);
    expect(revocations.isRevoked(revokedJustNow.id)).toBe(true);
  } finally {
    await revocations.close();
  }
});
