/**
 * One page of a list ordered by a time that moves (a conversation's last activity, newest
 * first), read by keyset. The page answers the same {items, nextCursor} as cursor-page.ts, but
 * its cursor carries the place the client saw, the last row's (time, id) as that page showed
 * them, and the next page is the rows below that place: `(time, id) < (seenTime, seenId)`.
 *
 * Why not a row id, as cursor-page.ts does: an id places the page by the row's values now.
 * Where rows keep their place (ordered by when they were made), that is the place the client
 * saw; here, the cursor's row written to between two pages has moved to the top, and the page
 * "after it" would be the list again from the second row, the pages before shown once more.
 *
 * What cursor-page.ts's rules come to with a place carried by value:
 * - A cursor whose row is gone (deleted between two pages) still places the page: nothing is
 *   looked up, so there is no NOT_FOUND and no row after it is lost.
 * - Ownership holds without a look-up: the place is only compared with, inside the viewer's own
 *   rows. A forged place (another user's conversation id, any time) tells only which of one's own
 *   rows lie below some values, which one's own list already shows: nothing about the row it
 *   names, not even whether it exists.
 * - A row written to between two pages that was below the place moves above it, and this pass
 *   no longer has it; a pass from the top shows it first. That is any list by activity.
 *
 * Precision: the place's time is a JS Date, in milliseconds, and compared for equality. The
 * column must hold milliseconds too (TIMESTAMP(3) rounds whatever is written, `now()`
 * included): with finer digits, rows in the same millisecond as the place would be ordered by
 * digits the cursor does not carry, and some skipped.
 */
import { STALE_CURSOR_MESSAGE, type CursorPage } from "./cursor-page.ts";
import { AppError } from "./errors.ts";

/** Where a page ends: its last row's order values as they were read. */
export interface KeysetPlace {
  at: Date;
  id: string;
}

/**
 * The earliest and latest times a cursor may carry: years 1 to 9999, which both PostgreSQL and
 * ISO 8601's plain form have (PostgreSQL has no year 0; a Date past 9999 prints as `+10000-…`).
 */
export const PLACE_TIME_RANGE = { min: Date.parse("0001-01-01T00:00:00.000Z"), max: Date.parse("9999-12-31T23:59:59.999Z") } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A place as a cursor: `<id>.<time in epoch ms>`, URL-safe as it is. */
export function placeCursor(place: KeysetPlace): string {
  return `${place.id}.${place.at.getTime()}`;
}

export const BAD_CURSOR_MESSAGE = "The page cursor is not one this list gave; start again from the first page";

const badCursor = () => new AppError("BAD_REQUEST", BAD_CURSOR_MESSAGE, { details: { field: "cursor" } });

/**
 * What a cursor says: a place, or (the older form, a row id alone) a row whose place is to be
 * looked up. Ids are UUIDs, as every table here makes them. Strict: a place must read exactly as
 * placeCursor writes it (no leading zeros, no sign on 0, no exponent), its time within
 * PLACE_TIME_RANGE; anything else is BAD_REQUEST on `cursor`, never a read.
 */
export function readCursor(cursor: string): { place: KeysetPlace } | { rowId: string } {
  if (UUID.test(cursor)) return { rowId: cursor };
  const dot = cursor.indexOf(".");
  const id = cursor.slice(0, dot);
  const ms = Number(cursor.slice(dot + 1));
  if (dot < 0 || !UUID.test(id) || !Number.isSafeInteger(ms) || ms < PLACE_TIME_RANGE.min || ms > PLACE_TIME_RANGE.max) throw badCursor();
  const place = { id, at: new Date(ms) };
  // The canonical text only: "0x1f", "1e3", "+5", "007", " 5" all read as numbers.
  if (placeCursor(place) !== cursor) throw badCursor();
  return { place };
}

/**
 * Where the page after `cursor` starts: the place it carries, or for a row id (the older form,
 * which clients holding one may still send) that row's place now, as `placeOfRow` finds it
 * among the viewer's own rows. A row it does not find (gone, or someone else's) is NOT_FOUND,
 * as in cursor-page.ts: the same answer for both.
 */
export async function cursorPlace(cursor: string | undefined, placeOfRow: (id: string) => Promise<KeysetPlace | null>): Promise<KeysetPlace | undefined> {
  if (cursor === undefined) return undefined;
  const given = readCursor(cursor);
  if ("place" in given) return given.place;
  const place = await placeOfRow(given.rowId);
  if (!place) throw new AppError("NOT_FOUND", STALE_CURSOR_MESSAGE, { details: { field: "cursor" } });
  return place;
}

/**
 * The rows below a place in a list ordered by `column` desc, then id desc (and the place's own
 * row with `including`), as a Prisma where, spread beside the list's own filter (which must not
 * name `column` or OR itself; or put both under an AND). The same as the row comparison
 * `(column, id) < (at, id)`, which Prisma has no form for; the redundant `column <= at` lets an
 * index on the column start the scan at the place instead of filtering every newer row on the
 * way to it.
 */
export function rowsBelow<K extends string>(column: K, place: KeysetPlace, opts: { including?: boolean } = {}) {
  const id = opts.including ? { lte: place.id } : { lt: place.id };
  return {
    ...({ [column]: { lte: place.at } } as Record<K, { lte: Date }>),
    OR: [{ [column]: { lt: place.at } } as Record<K, { lt: Date }>, { ...({ [column]: place.at } as Record<K, Date>), id }],
  };
}

/**
 * A page of at most `limit` rows read by `read` (which orders by `column` desc, id desc and puts
 * rowsBelow(place) in its where when there is a place); one row more tells there is a next page,
 * whose cursor is the last row's place.
 */
export async function keysetPage<K extends string, Row extends { id: string } & Record<K, Date>>(
  column: K,
  limit: number,
  read: (take: number) => Promise<Row[]>,
): Promise<CursorPage<Row>> {
  const rows = await read(limit + 1);
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? placeCursor({ at: last[column], id: last.id }) : null };
}
