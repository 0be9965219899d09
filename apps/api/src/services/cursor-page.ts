/**
 * One page of a list read by cursor, the rule every list procedure ({cursor?, limit?} →
 * {items, nextCursor}) follows. A cursor is the id of the last row of the page before; the
 * list's own filter and order stay with the list, passed in as the read.
 *
 * - One row more than the page is read: it being there is what makes a `nextCursor`.
 * - A page starts after the cursor's row, in the list's order. Prisma's `cursor` reads the rows
 *   at or past that row's place (it compares the order's columns with the row's own, whatever
 *   the filter), so the cursor's row is left out only when it came back: one that no longer
 *   matches the filter (a key revoked between two pages) still marks the place, and the row
 *   after it is not lost, as a blind `skip: 1` would lose it.
 * - A cursor whose row is gone (deleted, pruned past its retention) is NOT_FOUND. Prisma's read
 *   then compares with nothing and finds no row at all, which a caller would take for the end
 *   of the list: an export paging through would end as a whole-looking but short file. Since
 *   such a read is always empty, never merely short, the row is looked up only when nothing
 *   came back: a page with rows costs no second query.
 * - A list that shows a viewer only their own rows names them (`within`): a cursor outside them
 *   is NOT_FOUND as a gone one is, checked before the read. Prisma would place the page by any
 *   row's order values, so another user's row id would tell when that row was made from which
 *   of one's own rows come after it. One lookup by primary key per page that has a cursor.
 *
 * A row id is a stable place only where rows keep their place in the order (ordered by when they
 * were made). A list ordered by a time that moves, conversations by last activity, pages by
 * keyset-page.ts instead: its cursor carries the place the client saw.
 */
import { AppError } from "./errors.ts";

/** What a page's read adds to its own where and orderBy (spread into a findMany). */
export interface PageWindow {
  take?: number;
  cursor?: { id: string };
}

/** The table a cursor names rows of: a Prisma model delegate (`prisma.requestLog`, `tx.message`). */
export interface CursorTable<Within> {
  findFirst(args: { where: Within & { id: string }; select: { id: true } }): PromiseLike<{ id: string } | null>;
}

export interface CursorPage<Row> {
  items: Row[];
  nextCursor: string | null;
}

export const STALE_CURSOR_MESSAGE = "The page cursor names a row that no longer exists; start again from the first page";

/**
 * `limit` undefined reads every row from the cursor on (and answers no `nextCursor`). The
 * read must order by columns that end in a unique one (the id, or a sequence), so each row has
 * one place and the cursor's row comes first when it is read.
 */
export async function cursorPage<Row extends { id: string }, Within extends object = object>(
  table: CursorTable<Within>,
  page: { cursor?: string | undefined; limit?: number | undefined; within?: Within | undefined },
  read: (window: PageWindow) => Promise<Row[]>,
): Promise<CursorPage<Row>> {
  const { cursor, limit, within } = page;
  const stale = () => new AppError("NOT_FOUND", STALE_CURSOR_MESSAGE, { details: { field: "cursor" } });
  const cursorRow = (id: string) => table.findFirst({ where: { ...(within ?? ({} as Within)), id }, select: { id: true } });
  // Someone else's row (or a gone one) places no page: the same answer for both.
  if (cursor !== undefined && within !== undefined && !(await cursorRow(cursor))) throw stale();
  // One row past the page tells there is more; the cursor's own row may come back first.
  const take = limit === undefined ? undefined : limit + 1 + (cursor === undefined ? 0 : 1);
  const rows = await read({ ...(take === undefined ? {} : { take }), ...(cursor === undefined ? {} : { cursor: { id: cursor } }) });
  if (cursor !== undefined && within === undefined && rows.length === 0 && !(await cursorRow(cursor))) throw stale();
  const after = cursor !== undefined && rows[0]?.id === cursor ? rows.slice(1) : rows;
  const items = limit === undefined ? after : after.slice(0, limit);
  return { items, nextCursor: limit !== undefined && after.length > limit ? (items.at(-1)?.id ?? null) : null };
}
