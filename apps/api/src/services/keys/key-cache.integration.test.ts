/**
 * The API key cache stays bounded however many keys are used (each instance holds and
 * re-checks at most `maxHeld`), without refusing a key that gave way, and its resync still
 * finds a key revoked straight in the database when it holds more keys than one query reads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "../../../test/database.ts";
import { createMemoryCoordination } from "../../infra/coordination/index.ts";
import type { Database } from "../../infra/database.ts";
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
});
