/**
 * The database port's contract, run against both adapters (PostgreSQL and PGlite) so the
 * embedded default cannot drift from production.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, openTestPglite } from "../../test/database.ts";
import { Prisma } from "../generated/prisma/client.ts";
import { openDatabase, type Database } from "./database.ts";

const backends: [Database["kind"], () => Promise<Database>][] = [
  ["postgres", async () => {
    const pg = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: pg.url, dataDir: "/nonexistent" });
    return { ...db, close: () => db.close().finally(() => pg.drop()) };
  }],
  ["pglite", () => openTestPglite()],
];

let counter = 0;
const email = () => `u${++counter}-${Date.now()}@switchboard.test`;

describe.each(backends)("Database contract on %s", (kind, open) => {
  let db: Database;
  beforeAll(async () => { db = await open(); });
  afterAll(async () => { await db?.close(); });

  it("reports its kind and answers ping", async () => {
    expect(db.kind).toBe(kind);
    expect(await db.ping()).toBe(true);
  });

  it("creates and reads a User with defaults", async () => {
    const created = await db.prisma.user.create({ data: { email: email(), passwordHash: "h" } });
    const read = await db.prisma.user.findUniqueOrThrow({ where: { id: created.id } });
    expect(read).toEqual(created);
    expect(read.role).toBe("USER");
    expect(read.disabled).toBe(false);
    expect(read.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(read.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it("round-trips arrays, JSON, floats and composite keys", async () => {
    const user = await db.prisma.user.create({ data: { email: email(), passwordHash: "h" } });
    const session = await db.prisma.session.create({
      data: { userId: user.id, refreshTokenHash: `rt-${counter}`, previousHashes: ["a", "b,c", 'd"e'], expiresAt: new Date(Date.UTC(2030, 0, 1, 12, 0, 0, 123)) },
    });
    expect(session.previousHashes).toEqual(["a", "b,c", 'd"e']);
    expect(session.expiresAt.toISOString()).toBe("2030-01-01T12:00:00.123Z");
    const convo = await db.prisma.conversation.create({ data: { userId: user.id, title: "t" } });
    const message = await db.prisma.message.create({
      data: { conversationId: convo.id, role: "assistant", content: "hi", attempts: [{ provider: "beta", ok: false, ms: 12.5 }] },
    });
    expect(message.attempts).toEqual([{ provider: "beta", ok: false, ms: 12.5 }]);
    const minute = new Date(Date.UTC(2030, 0, 1, 12, 1));
    await db.prisma.metricBucket.create({ data: { minute, provider: "beta", instance: "i-1", calls: 1, totalLatency: 0.25 } });
    const bucket = await db.prisma.metricBucket.findUniqueOrThrow({ where: { minute_provider_instance: { minute, provider: "beta", instance: "i-1" } } });
    expect(bucket.totalLatency).toBe(0.25);
  });

  it("surfaces a unique violation as Prisma P2002", async () => {
    const address = email();
    await db.prisma.user.create({ data: { email: address, passwordHash: "h" } });
    const error = await db.prisma.user.create({ data: { email: address, passwordHash: "h" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    expect((error as Prisma.PrismaClientKnownRequestError).code).toBe("P2002");
  });

  it("rolls back an interactive transaction that throws", async () => {
    const address = email();
    await expect(
      db.prisma.$transaction(async (tx) => {
        await tx.user.create({ data: { email: address, passwordHash: "h" } });
        expect(await tx.user.count({ where: { email: address } })).toBe(1);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await db.prisma.user.count({ where: { email: address } })).toBe(0);
    // …and the connection is usable afterwards.
    expect(await db.ping()).toBe(true);
  });

  it("rolls back a batch transaction when one statement fails", async () => {
    const address = email();
    await db.prisma.user.create({ data: { email: address, passwordHash: "h" } });
    const fresh = email();
    await expect(
      db.prisma.$transaction([
        db.prisma.user.create({ data: { email: fresh, passwordHash: "h" } }),
        db.prisma.user.create({ data: { email: address, passwordHash: "h" } }),
      ]),
    ).rejects.toMatchObject({ code: "P2002" });
    expect(await db.prisma.user.count({ where: { email: fresh } })).toBe(0);
  });

  it("commits an interactive transaction", async () => {
    const address = email();
    await db.prisma.$transaction(async (tx) => {
      const user = await tx.user.create({ data: { email: address, passwordHash: "h" } });
      await tx.conversation.create({ data: { userId: user.id, title: "first" } });
    });
    expect(await db.prisma.conversation.count({ where: { user: { email: address } } })).toBe(1);
  });

  it("cascades deletes along relations", async () => {
    const user = await db.prisma.user.create({ data: { email: email(), passwordHash: "h" } });
    await db.prisma.conversation.create({ data: { userId: user.id, title: "t", messages: { create: { role: "user", content: "x" } } } });
    await db.prisma.user.delete({ where: { id: user.id } });
    expect(await db.prisma.conversation.count({ where: { userId: user.id } })).toBe(0);
  });
});

describe("openDatabase", () => {
  it("keeps PGlite data in DATA_DIR/pglite across reopen, migrating only once", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "sb-reopen-"));
    try {
      const first: string[] = [];
      let t = Date.now();
      const db1 = await openDatabase({ dataDir, log: (l) => first.push(l) });
      const cold = Date.now() - t;
      expect(db1.kind).toBe("pglite");
      expect(first.length).toBeGreaterThan(0);
      const user = await db1.prisma.user.create({ data: { email: email(), passwordHash: "h" } });
      await db1.close();
      await db1.close(); // idempotent

      const second: string[] = [];
      t = Date.now();
      const db2 = await openDatabase({ dataDir, log: (l) => second.push(l) });
      const warm = Date.now() - t;
      try {
        expect(second).toEqual([]);
        expect(await db2.prisma.user.findUnique({ where: { id: user.id } })).toEqual(user);
      } finally {
        await db2.close();
      }
      console.log(`openDatabase on PGlite: cold ${cold} ms, warm ${warm} ms`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it.each([
    ["not a url", /^Invalid DATABASE_URL: not a URL/],
    ["mysql://root@localhost/db", /^Invalid DATABASE_URL: scheme "mysql:"/],
    ["postgresql://", /^Invalid DATABASE_URL: no host/],
  ])("rejects an unusable URL %j with one line", async (databaseUrl, message) => {
    const error = (await openDatabase({ databaseUrl, dataDir: "/nonexistent" }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
  });

  it("rejects an unreachable server with one line that hides the password", async () => {
    const error = (await openDatabase({ databaseUrl: "postgresql://u:secret@127.0.0.1:1/db", dataDir: "/nonexistent" }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^Cannot connect to PostgreSQL at 127\.0\.0\.1:1\/db: /);
    expect(error.message).not.toContain("secret");
    expect(error.message).not.toContain("\n");
  });
});
