import { isStaleCursor } from "../lib/errors.ts";

/** What the footer needs of an infinite query. */
export interface NextPage {
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => Promise<{ isError: boolean; error: unknown }>;
  /** Reads the loaded pages again from the first, each cursor from the page just read. */
  refetch: () => Promise<unknown>;
}

/**
 * Fetches the next page. When its cursor's row has gone meanwhile (deleted in another tab or
 * by someone else, pruned), the list is read again from the first page instead, as it is now:
 * the next "Load more" then goes on from a row that exists.
 */
export async function loadMore(query: NextPage): Promise<void> {
  const next = await query.fetchNextPage();
  if (next.isError && isStaleCursor(next.error)) await query.refetch();
}

/**
 * The rows of the pages loaded so far, each once. A row can still come again on a later page of
 * a list ordered by a time that moves: the conversations list pages from the place the reader
 * saw, so one written to moves up, out of the pages still to come, but one written to by an
 * instance whose clock is behind can move down past that place. Shown twice, it would also be
 * two rows with one React key.
 */
export function pageRows<Row>(pages: ReadonlyArray<{ items: readonly Row[] }> | undefined, keyOf: (row: Row) => string): Row[] {
  const seen = new Set<string>();
  return (pages ?? []).flatMap((p) => p.items).filter((row) => !seen.has(keyOf(row)) && seen.add(keyOf(row)));
}

/** Whether a cursor-paged list has an error to show: not a stale cursor, which loadMore answers by reading again. */
export function listFailed(query: { isError: boolean; error: unknown }): boolean {
  return query.isError && !isStaleCursor(query.error);
}

/** The footer of a cursor-paged table: fetches the next page of an infinite query. */
export function LoadMore({ query }: { query: NextPage }) {
  if (!query.hasNextPage) return null;
  return (
    <div className="table-footer">
      <button type="button" className="btn" onClick={() => void loadMore(query)} disabled={query.isFetchingNextPage}>
        {query.isFetchingNextPage ? "Loading…" : "Load more"}
      </button>
    </div>
  );
}
