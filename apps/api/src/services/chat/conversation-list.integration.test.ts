/**
 * chat.conversations.list over the conversation store, on PostgreSQL and on the embedded
 * PGlite. The list is by last activity, so a conversation written to between two pages moves
 * to the top; these tests say what a reader paging through sees when that happens to the row
 * the next page starts after, to one below it, and to one above it.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openTestDatabase, type DatabaseFlavour } from "../../../test/database.ts";
import type { Database } from "../../infra/database.ts";
import { AppError } from "../errors.ts";
import { createConversationStore, type ConversationStore, type Viewer } from "./conversation-store.ts";

describe.each<DatabaseFlavour>(["PostgreSQL", "PGlite"])("conversations list on %s", (flavour) => {
  let db: Database;
  let store: ConversationStore;
  let alice: Viewer;
  let bob: Viewer;
  /** Alice's conversations, newest activity first (c0 is the top of her list). */
  let ids: string[];
  /** When c0 was last written to; c(i) a minute earlier per step down. */
  let top: number;

  beforeAll(async () => {
    db = await openTestDatabase(flavour);
    store = createConversationStore({ prisma: db.prisma, budget: { maxChars: 10_000, maxMessages: 20 } });
  }, 120_000);

  afterAll(async () => {
    await db?.close();
  });

  const newUser = async (): Promise<Viewer> =>
    db.prisma.user.create({ data: { email: `${randomUUID()}@list.test`, passwordHash: "x", role: "USER" }, select: { id: true, role: true } });

  /** Conversations of `owner` last written to at the given times (ms), their ids in that order. */
  async function conversationsAt(owner: Viewer, times: number[]): Promise<string[]> {
    const rows = times.map((at, i) => ({ id: randomUUID(), userId: owner.id, title: `c${i}`, createdAt: new Date(at), updatedAt: new Date(at) }));
    await db.prisma.conversation.createMany({ data: rows });
    return rows.map((r) => r.id);
  }

  beforeEach(async () => {
    await db.prisma.user.deleteMany();
    [alice, bob] = [await newUser(), await newUser()];
    top = Date.now() - 3_600_000;
    ids = await conversationsAt(alice, Array.from({ length: 7 }, (_, i) => top - i * 60_000));
  });

  /** What the app does when a conversation gets a reply: its last activity becomes now. */
  const writeTo = (id: string) =>
    store.saveReply(id, new Date(), { id: randomUUID(), content: "reply", provider: "template", model: "t", status: "complete", promptTokens: 1, completionTokens: 1, latencyMs: 1, attempts: [] });

  const list = (viewer: Viewer, input: { cursor?: string; limit?: number }) => store.list(viewer, { limit: 20, ...input });
  const idsOf = (page: { items: Array<{ id: string }> }) => page.items.map((c) => c.id);
  const refusal = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error as AppError);

  /** Every page from the first, calling `between` after each page but the last. */
  async function walk(viewer: Viewer, limit: number, between: (page: number, cursor: string) => Promise<void> = async () => {}): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await list(viewer, { ...(cursor ? { cursor } : {}), limit });
      pages.push(idsOf(page));
      cursor = page.nextCursor ?? undefined;
      if (cursor) await between(pages.length, cursor);
    } while (cursor && pages.length < 20);
    return pages;
  }

  it("reads every conversation once, by last activity", async () => {
    expect(await walk(alice, 3)).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
    expect((await walk(alice, 1)).flat()).toEqual(ids);
    expect(await walk(alice, 7)).toEqual([ids]);
    expect(await walk(bob, 3)).toEqual([[]]);
  });

  it("the row the next page starts after, written to between pages: the next page goes on from the place it had", async () => {
    const pages = await walk(alice, 3, async (page) => {
      // The last row the reader was shown gets a reply and moves to the top.
      if (page === 1) await writeTo(ids[2]!);
    });
    // Neither the first page again (the row's new place is the top) nor anything skipped.
    expect(pages).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
  });

  it("a row below the place, written to between pages, moves above it: this pass has it no more", async () => {
    const pages = await walk(alice, 3, async (page) => {
      if (page === 1) await writeTo(ids[4]!);
    });
    // As in any list by activity: c4 is now at the top, where a later pass from the top shows it.
    expect(pages).toEqual([ids.slice(0, 3), [ids[3], ids[5], ids[6]]]);
    expect(idsOf(await list(alice, { limit: 1 }))).toEqual([ids[4]]);
  });

  it("a row above the place, written to between pages, changes nothing below it", async () => {
    const pages = await walk(alice, 3, async (page) => {
      if (page === 1) await writeTo(ids[1]!);
    });
    expect(pages).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
  });

  it("a reply written by an instance whose clock runs behind the last writer's keeps its row where it was: no page shows it twice", async () => {
    // The top three were last written by an instance whose clock runs minutes ahead of this one.
    const ahead = Date.now() + 180_000;
    for (const [i, id] of ids.slice(0, 3).entries()) {
      await db.prisma.conversation.update({ where: { id }, data: { updatedAt: new Date(ahead - i * 60_000) } });
    }
    const pages = await walk(alice, 3, async (page) => {
      // This instance, behind the one before it, stores a reply to the top row the reader saw.
      if (page === 1) await writeTo(ids[0]!);
    });
    expect(pages.flat()).toEqual(ids);
    const [first] = (await list(alice, { limit: 1 })).items;
    expect(first?.id).toBe(ids[0]);
    expect(Date.parse(first!.updatedAt)).toBe(ahead + 1);
  });

  it("the row the next page starts after, deleted between pages: the next page goes on from its place", async () => {
    const first = await list(alice, { limit: 3 });
    await store.remove(alice, ids[2]!);
    const second = await list(alice, { cursor: first.nextCursor!, limit: 3 });
    expect(idsOf(second)).toEqual(ids.slice(3, 6));
    expect(idsOf(await list(alice, { cursor: second.nextCursor!, limit: 3 }))).toEqual([ids[6]]);
  });

  it("a cursor is the last row's id and the time it was last written to, as the page showed them", async () => {
    const first = await list(alice, { limit: 2 });
    expect(first.nextCursor).toBe(`${ids[1]}.${Date.parse(first.items[1]!.updatedAt)}`);
    expect(Date.parse(first.items[1]!.updatedAt)).toBe(top - 60_000);
    // The last page has none.
    expect((await list(alice, { cursor: first.nextCursor!, limit: 5 })).nextCursor).toBeNull();
  });

  it("still takes a plain conversation id, placed where that conversation is now, among the viewer's own", async () => {
    expect(idsOf(await list(alice, { cursor: ids[2]!, limit: 2 }))).toEqual([ids[3], ids[4]]);
    const page = await list(alice, { cursor: ids[4]!, limit: 1 });
    // What comes back is a cursor of the new form.
    expect(page.nextCursor).toBe(`${ids[5]}.${top - 5 * 60_000}`);
    // Another user's conversation, or one that does not exist, is the 404 of a gone cursor row.
    const [bobs] = await conversationsAt(bob, [top + 1000]);
    for (const cursor of [bobs!, randomUUID()]) {
      expect(await refusal(list(alice, { cursor, limit: 2 }))).toMatchObject({ code: "NOT_FOUND", details: { field: "cursor" } });
    }
    // An ADMIN sees everyone's, so places by anyone's (Bob's is the newest of all).
    const admin = { id: randomUUID(), role: "ADMIN" } satisfies Viewer;
    expect(idsOf(await list(admin, { cursor: bobs!, limit: 1 }))).toEqual([ids[0]]);
  });

  it("a forged place reads only the viewer's own rows below its values: the row it names is never looked at", async () => {
    // Bob's conversation sits between Alice's c2 and c3; a place naming it, with its time:
    const [bobs] = await conversationsAt(bob, [top - 2 * 60_000 - 30_000]);
    const forged = `${bobs}.${top - 2 * 60_000 - 30_000}`;
    const page = await list(alice, { cursor: forged, limit: 10 });
    expect(idsOf(page)).toEqual(ids.slice(3));
    // The same answer once Bob's conversation is gone, or for a time alone with any id.
    await db.prisma.conversation.delete({ where: { id: bobs! } });
    expect(await list(alice, { cursor: forged, limit: 10 })).toEqual(page);
    expect(await list(alice, { cursor: `${randomUUID()}.${top - 2 * 60_000 - 30_000}`, limit: 10 })).toEqual(page);
    // Bob's own list is still his (empty), whatever place he forges from Alice's.
    expect(idsOf(await list(bob, { cursor: `${ids[0]}.${top + 1}`, limit: 10 }))).toEqual([]);
  });

  it("a place in the future reads from the top, one before every row reads an empty last page", async () => {
    expect(await list(alice, { cursor: `${randomUUID()}.${Date.parse("9999-12-31T23:59:59.999Z")}`, limit: 3 })).toEqual(await list(alice, { limit: 3 }));
    expect(await list(alice, { cursor: `${randomUUID()}.${Date.parse("0001-01-01T00:00:00.000Z")}`, limit: 3 })).toEqual({ items: [], nextCursor: null });
  });

  it("refuses a cursor it could not have given as BAD_REQUEST on cursor, whoever asks", async () => {
    const admin = { id: randomUUID(), role: "ADMIN" } satisfies Viewer;
    for (const cursor of ["garbage", "x".repeat(5000), `${ids[0]}.`, `${ids[0]}.abc`, `${ids[0]}.1e12`, `${ids[0]}.0${top}`, `.${top}`, `not-an-id.${top}`, `${ids[0]}.${top}.1`, `${ids[0]}.-0`, `${ids[0]}.253402300800000`, `${ids[0]}.-62135596800001`, `${ids[0]}.${"9".repeat(30)}`]) {
      for (const viewer of [alice, admin]) {
        const error = await refusal(list(viewer, { cursor, limit: 2 }));
        expect(error, cursor).toBeInstanceOf(AppError);
        expect(error, cursor).toMatchObject({ code: "BAD_REQUEST", details: { field: "cursor" } });
      }
    }
  });

  it("pages rows that share a time by id, each once", async () => {
    const same = top - 90_000;
    const tied = await conversationsAt(alice, [same, same, same, same]);
    const all = idsOf(await list(alice, { limit: 100 }));
    expect(all).toHaveLength(11);
    expect(all.slice(2, 6)).toEqual([...tied].sort().reverse());
    expect((await walk(alice, 1)).flat()).toEqual(all);
    expect((await walk(alice, 2)).flat()).toEqual(all);
  });

  it("keeps times to the millisecond, whoever writes them: a time written with finer digits is neither repeated nor skipped", async () => {
    // The column rounds to milliseconds what SQL writes with microseconds (now() included), so a
    // row read is the row the cursor's time was taken from.
    const column = await db.prisma.$queryRaw<Array<{ precision: number }>>`
      SELECT datetime_precision::int AS precision FROM information_schema.columns WHERE table_name = 'Conversation' AND column_name = 'updatedAt'`;
    expect(column).toEqual([{ precision: 3 }]);
    await db.prisma.$executeRawUnsafe(`UPDATE "Conversation" SET "updatedAt" = now() WHERE "id" IN ('${ids[5]}', '${ids[6]}')`);
    const fine = ["2030-01-01 00:00:00.123401", "2030-01-01 00:00:00.123456", "2030-01-01 00:00:00.123499", "2030-01-01 00:00:00.1226"];
    for (const [i, at] of fine.entries()) await db.prisma.$executeRawUnsafe(`UPDATE "Conversation" SET "updatedAt" = '${at}' WHERE "id" = '${ids[i]}'`);
    const all = await list(alice, { limit: 100 });
    expect(all.items.slice(0, 4).map((c) => c.updatedAt)).toEqual(Array(4).fill("2030-01-01T00:00:00.123Z"));
    expect(idsOf(all).slice(0, 4)).toEqual(ids.slice(0, 4).sort().reverse());
    for (const limit of [1, 2, 3]) expect((await walk(alice, limit)).flat(), `limit ${limit}`).toEqual(idsOf(all));
  });
});
