/**
 * The API key cache stays bounded however many keys are used (each instance holds and
 * re-checks at most `maxHeld`), without refusing a key that gave way, and its resync still
 * finds a key revoked straight in the database when it holds more keys than one query reads.
 * A lookup made after a key's change was heard never takes the answer of a read that began
 * before it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, openTestDatabase } from "../../../test/database.ts";
import { startTcpLink } from "../../../test/tcp-link.ts";
import { createMemoryCoordination } from "../../infra/coordination/index.ts";
import { openDatabase, type Database } from "../../infra/database.ts";
import { createKeyCache, type KeyChange } from "./key-cache.ts";
import { newKeySecret } from "./key-secret.ts";

let db: Database;

beforeAll(async () => {
  db = await openTestDatabase("PostgreSQL");
}, 120_000);

afterAll(async () => {
  await db?.close();
});

/** `count` keys of a new user, straight in the database: their hashes, in order. */
async function keysOfNewUser(count: number): Promise<string[]> {
  const user = await db.prisma.user.create({ data: { email: `cache-${crypto.randomUUID()}@example.com`, passwordHash: "x" } });
  const hashes = Array.from({ length: count }, () => newKeySecret().hash);
  await db.prisma.apiKey.createMany({ data: hashes.map((keyHash, i) => ({ userId: user.id, name: `k${i}`, prefix: "sb-x", keyHash, scopes: ["chat"] })) });
  return hashes;
}

describe("the API key cache", () => {
  it("holds at most maxHeld keys; one that gave way is read again when next used", async () => {
    const cache = createKeyCache({ prisma: db.prisma, coordination: createMemoryCoordination(), log: () => {}, maxHeld: 3, resyncIntervalMs: 60_000 });
    await cache.start();
    try {
      const hashes = await keysOfNewUser(5);
      for (const hash of hashes) expect(await cache.lookup(hash)).toMatchObject({ scopes: ["chat"] });
      expect(cache.size()).toBe(3);
      // The first two gave way to the last three; they still authenticate.
      expect(await cache.lookup(hashes[0]!)).not.toBeNull();
      expect(cache.size()).toBe(3);
    } finally {
      await cache.close();
    }
  });

  it("finds a key revoked in the database among more held keys than one resync query reads", async () => {
    const cache = createKeyCache({ prisma: db.prisma, coordination: createMemoryCoordination(), log: () => {}, resyncIntervalMs: 100 });
    const changes: KeyChange[] = [];
    cache.onChanged((change) => void changes.push(change));
    await cache.start();
    try {
      const hashes = await keysOfNewUser(1500);
      for (const hash of hashes) await cache.lookup(hash);
      expect(cache.size()).toBe(1500);
      const last = await db.prisma.apiKey.update({ where: { keyHash: hashes.at(-1)! }, data: { revokedAt: new Date() } });
      await expect.poll(() => changes.some((c) => "keyId" in c && c.keyId === last.id)).toBe(true);
      expect(await cache.lookup(hashes.at(-1)!)).toBeNull();
      expect(await cache.lookup(hashes[0]!)).not.toBeNull();
    } finally {
      await cache.close();
    }
  }, 60_000);

  it("a lookup after a key's change was heard never joins a read of the key that began before it", async () => {
    // The cache reads through a link whose answers the test holds back: the database has
    // answered the first lookup's read with the key as it was, the cache has not heard yet.
    const server = await createTestDatabase();
    const target = new URL(server.url);
    const link = await startTcpLink({ host: target.hostname, port: Number(target.port || 5432) });
    const viaLink = new URL(server.url);
    viaLink.port = String(link.port);
    const dataDir = await mkdtemp(join(tmpdir(), "sb-key-cache-"));
    const slow = await openDatabase({ databaseUrl: viaLink.toString(), dataDir });
    const direct = await openDatabase({ databaseUrl: server.url, dataDir });
    const cache = createKeyCache({ prisma: slow.prisma, coordination: createMemoryCoordination(), log: () => {}, resyncIntervalMs: 60_000 });
    await cache.start();
    try {
      const user = await direct.prisma.user.create({ data: { email: `race-${crypto.randomUUID()}@example.com`, passwordHash: "x" } });
      const { hash } = newKeySecret();
      const key = await direct.prisma.apiKey.create({ data: { userId: user.id, name: "raced", prefix: "sb-x", keyHash: hash, scopes: ["chat"] } });
      // A connection open and idle, so what the link holds next is the read's answer.
      await slow.prisma.$queryRaw`SELECT 1`;
      link.hold(true);
      const before = cache.lookup(hash);
      await expect.poll(() => link.heldBytes, { timeout: 5000 }).toBeGreaterThan(0);
      // Revoked, and the change heard here (as keys.revoke writes, then publishes).
      await direct.prisma.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
      await cache.publish({ keyId: key.id });
      const after = cache.lookup(hash);
      link.hold(false);
      // The lookup that began before the revocation may answer with the key as it was read.
      expect(await before).not.toBeNull();
      expect(await after).toBeNull();
      expect(await cache.lookup(hash)).toBeNull();
    } finally {
      link.hold(false);
      await cache.close();
      await slow.close();
      await direct.close();
      await link.close();
      await server.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
