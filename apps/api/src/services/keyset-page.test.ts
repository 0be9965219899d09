import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { STALE_CURSOR_MESSAGE } from "./cursor-page.ts";
import { AppError } from "./errors.ts";
import { BAD_CURSOR_MESSAGE, cursorPlace, keysetPage, PLACE_TIME_RANGE, placeCursor, readCursor, rowsBelow } from "./keyset-page.ts";

const id = "0b7c1f0e-3d5a-4c1e-9a8b-2f6d4e5c7a91";
const at = new Date("2026-12-05T13:01:09.123Z");

function refusalOf(cursor: string): AppError | null {
  try {
    readCursor(cursor);
    return null;
  } catch (error) {
    return error as AppError;
  }
}

describe("a keyset cursor", () => {
  it("is the id and the time in epoch milliseconds, URL-safe as it is, and reads back as the same place", () => {
    const cursor = placeCursor({ id, at });
    expect(cursor).toBe(`${id}.1796475669123`);
    expect(encodeURIComponent(cursor)).toBe(cursor);
    expect(readCursor(cursor)).toEqual({ place: { id, at } });
    // An id as the table holds it, whatever its case.
    expect(readCursor(placeCursor({ id: id.toUpperCase(), at }))).toEqual({ place: { id: id.toUpperCase(), at } });
    for (const ms of [PLACE_TIME_RANGE.min, -1, 0, 1, PLACE_TIME_RANGE.max]) {
      expect(readCursor(placeCursor({ id, at: new Date(ms) })), String(ms)).toEqual({ place: { id, at: new Date(ms) } });
    }
  });

  it("reads a plain id, the older form, as a row to look up", () => {
    expect(readCursor(id)).toEqual({ rowId: id });
    expect(readCursor(id.toUpperCase())).toEqual({ rowId: id.toUpperCase() });
  });

  it.each([
    "",
    "garbage",
    "x".repeat(10_000),
    `${id}.`,
    `.${at.getTime()}`,
    `${id}`.slice(0, 35),
    `not-a-uuid.${at.getTime()}`,
    `${id}.${at.getTime()}.5`,
    `${id}.${at.getTime()}x`,
    `${id}.0${at.getTime()}`,
    `${id}.+${at.getTime()}`,
    `${id}. ${at.getTime()}`,
    `${id}.${at.getTime()} `,
    `${id}.1.5`,
    `${id}.1e12`,
    `${id}.0x1f`,
    `${id}.-0`,
    `${id}.NaN`,
    `${id}.Infinity`,
    `${id}.${PLACE_TIME_RANGE.max + 1}`,
    `${id}.${PLACE_TIME_RANGE.min - 1}`,
    `${id}.${"9".repeat(400)}`,
    `${id}..${at.getTime()}`,
    `${at.getTime()}.${id}`,
  ])("refuses %j as BAD_REQUEST on cursor", (cursor) => {
    const refusal = refusalOf(cursor);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ code: "BAD_REQUEST", message: BAD_CURSOR_MESSAGE, details: { field: "cursor" } });
  });

  it("keeps its times within years 1 to 9999, which PostgreSQL and ISO 8601's plain form both have", () => {
    expect(new Date(PLACE_TIME_RANGE.min).toISOString()).toBe("0001-01-01T00:00:00.000Z");
    expect(new Date(PLACE_TIME_RANGE.max).toISOString()).toBe("9999-12-31T23:59:59.999Z");
  });
});

describe("cursorPlace", () => {
  const noRow = async () => null;

  it("is no place without a cursor, and the cursor's own place without looking anything up", async () => {
    let lookups = 0;
    const find = async () => {
      lookups += 1;
      return null;
    };
    expect(await cursorPlace(undefined, find)).toBeUndefined();
    expect(await cursorPlace(placeCursor({ id, at }), find)).toEqual({ id, at });
    expect(lookups).toBe(0);
  });

  it("places a plain id where its row is found, and one not found is the NOT_FOUND of a gone row", async () => {
    const now = new Date("2027-01-01T00:00:00.001Z");
    expect(await cursorPlace(id, async (rowId) => ({ id: rowId, at: now }))).toEqual({ id, at: now });
    await expect(cursorPlace(randomUUID(), noRow)).rejects.toMatchObject({ code: "NOT_FOUND", message: STALE_CURSOR_MESSAGE, details: { field: "cursor" } });
  });

  it("refuses a malformed cursor before looking anything up", async () => {
    await expect(cursorPlace("no-such-conversation", () => Promise.reject(new Error("looked up")))).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});

describe("rowsBelow", () => {
  it("is the row comparison (column, id) < (at, id) as a Prisma where, with the column's bound an index can start from", () => {
    expect(rowsBelow("updatedAt", { id, at })).toEqual({ updatedAt: { lte: at }, OR: [{ updatedAt: { lt: at } }, { updatedAt: at, id: { lt: id } }] });
  });
});

describe("keysetPage", () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: `${i}`, updatedAt: new Date(at.getTime() - i) }));

  it("reads one row more than the page, and gives the last row's place as the next cursor when it came", async () => {
    const takes: number[] = [];
    const read = async (take: number) => {
      takes.push(take);
      return rows.slice(0, take);
    };
    expect(await keysetPage("updatedAt", 2, read)).toEqual({ items: rows.slice(0, 2), nextCursor: `1.${at.getTime() - 1}` });
    expect(takes).toEqual([3]);
    // A page that ends the list, exactly or short, has no cursor.
    expect(await keysetPage("updatedAt", 5, read)).toEqual({ items: rows, nextCursor: null });
    expect(await keysetPage("updatedAt", 9, read)).toEqual({ items: rows, nextCursor: null });
    expect(await keysetPage("updatedAt", 3, async () => [])).toEqual({ items: [], nextCursor: null });
  });
});
