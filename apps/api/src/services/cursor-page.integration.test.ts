/**
 * The cursor-page rule on PostgreSQL and on the embedded PGlite, over a real table (the
 * emergency audit trail, which has no foreign keys): every row once and in order, a row that
 * left the filter still marking its place, and a cursor whose row is gone refused instead of
 * read as the end of the list.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openTestDatabase, type DatabaseFlavour } from "../../test/database.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { Database } from "../infra/database.ts";
import { cursorPage, STALE_CURSOR_MESSAGE, type CursorTable } from "./cursor-page.ts";
import { AppError } from "./errors.ts";

describe.each<DatabaseFlavour>(["PostgreSQL", "PGlite"])("cursor pages on %s", (flavour) => {
  let db: Database;
  /** The rows' ids, newest first (r0…r6; r4 is the one unfreeze). */
  let ids: string[];
  let lookups: number;
  let table: CursorTable<Prisma.EmergencyEventWhereInput>;

  beforeAll(async () => {
    db = await openTestDatabase(flavour);
  }, 120_000);

  afterAll(async () => {
    await db?.close();
  });

  beforeEach(async () => {
    await db.prisma.emergencyEvent.deleteMany();
    const at = Date.now() - 60_000;
    const times = [6, 5, 4, 4, 3, 2, 1];
    ids = times.map((_, i) => `r${i}-${randomUUID()}`);
    // r2 and r3 share a time: the id, descending, puts r2 first.
    ids[2] = `z-${ids[2]}`;
    await db.prisma.emergencyEvent.createMany({
      data: times.map((t, i) => ({ id: ids[i]!, action: i === 4 ? "unfreeze" : "freeze", scope: "global", instanceId: "test", createdAt: new Date(at + t * 1000) })),
    });
    lookups = 0;
    // Counts the existence look-ups, so a test can tell a page with rows asked nothing more.
    table = {
      findFirst: (args) => {
        lookups += 1;
        return db.prisma.emergencyEvent.findFirst(args);
      },
    };
  });

  const ORDER = [{ createdAt: "desc" }, { id: "desc" }] satisfies Prisma.EmergencyEventOrderByWithRelationInput[];
  const page = (input: { cursor?: string; limit?: number; within?: Prisma.EmergencyEventWhereInput }, where: Prisma.EmergencyEventWhereInput = {}) =>
    cursorPage(table, input, (window) => db.prisma.emergencyEvent.findMany({ where, orderBy: ORDER, ...window }));

  async function walk(limit: number, where: Prisma.EmergencyEventWhereInput = {}): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const p = await page({ ...(cursor ? { cursor } : {}), limit }, where);
      pages.push(p.items.map((r) => r.id));
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
    return pages;
  }

  it("reads every row once, in the list's order, and says where the next page starts", async () => {
    expect(await walk(3)).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
    // A list that ends on a page's last row has no page after it.
    expect(await walk(7)).toEqual([ids]);
    expect((await walk(1)).flat()).toEqual(ids);
    // Pages with rows never asked whether the cursor's row exists.
    expect(lookups).toBe(0);
  });

  it("in a list of one's own rows, refuses a row outside them as a cursor exactly as a gone one, before reading", async () => {
    // The freezes stand for "the viewer's own rows"; r4 (the unfreeze) for someone else's.
    const own = { action: "freeze" } satisfies Prisma.EmergencyEventWhereInput;
    const refusal = await page({ cursor: ids[4]!, limit: 2, within: own }, own).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(AppError);
    expect((refusal as AppError).code).toBe("NOT_FOUND");
    expect((refusal as AppError).message).toBe(STALE_CURSOR_MESSAGE);
    // Unscoped, the same cursor places the page: the rows after it in the list's order.
    expect((await page({ cursor: ids[4]!, limit: 2 }, own)).items.map((r) => r.id)).toEqual([ids[5], ids[6]]);
    // One's own row: the page after it, one lookup by key.
    lookups = 0;
    expect((await page({ cursor: ids[3]!, limit: 2, within: own }, own)).items.map((r) => r.id)).toEqual([ids[5], ids[6]]);
    expect(lookups).toBe(1);
  });

  it("without a limit, reads everything from the cursor on", async () => {
    const all = await page({});
    expect(all.items.map((r) => r.id)).toEqual(ids);
    expect(all.nextCursor).toBeNull();
    expect((await page({ cursor: ids[3]! })).items.map((r) => r.id)).toEqual(ids.slice(4));
  });

  it("keeps the place of a cursor whose row has left the filter, losing no row after it", async () => {
    const freezes = { action: "freeze" };
    const first = await page({ limit: 3 }, freezes);
    expect(first.nextCursor).toBe(ids[2]);
    // Between two pages, the cursor's row stops matching the filter.
    await db.prisma.emergencyEvent.update({ where: { id: ids[2]! }, data: { action: "expire" } });
    const second = await page({ cursor: first.nextCursor!, limit: 3 }, freezes);
    expect(second.items.map((r) => r.id)).toEqual([ids[3], ids[5], ids[6]]);
    expect(second.nextCursor).toBeNull();
  });

  it("Prisma reads nothing at all from a cursor whose row is gone, even with rows on both sides", async () => {
    await db.prisma.emergencyEvent.delete({ where: { id: ids[3]! } });
    const read = await db.prisma.emergencyEvent.findMany({ orderBy: ORDER, cursor: { id: ids[3]! }, take: 10 });
    expect(read).toEqual([]);
    // So a short page with rows never hides a missing cursor: only an empty read is looked into.
  });

  it("refuses a cursor whose row is gone as NOT_FOUND, not as the end of the list", async () => {
    const first = await page({ limit: 3 });
    await db.prisma.emergencyEvent.delete({ where: { id: first.nextCursor! } });
    const refused = await page({ cursor: first.nextCursor!, limit: 3 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: "NOT_FOUND", message: STALE_CURSOR_MESSAGE, details: { field: "cursor" } });
    expect(lookups).toBe(1);
    // A cursor that never named a row reads the same.
    await expect(page({ cursor: randomUUID(), limit: 3 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(page({ cursor: randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("answers an empty last page when the cursor's row is there and the rows after it are not", async () => {
    const first = await page({ limit: 6 });
    expect(first.nextCursor).toBe(ids[5]);
    await db.prisma.emergencyEvent.delete({ where: { id: ids[6]! } });
    expect(await page({ cursor: first.nextCursor!, limit: 6 })).toEqual({ items: [], nextCursor: null });
    // ...and when the cursor's row has also left the filter.
    await db.prisma.emergencyEvent.update({ where: { id: ids[5]! }, data: { action: "expire" } });
    expect(await page({ cursor: ids[5]!, limit: 6 }, { action: "freeze" })).toEqual({ items: [], nextCursor: null });
  });
});
