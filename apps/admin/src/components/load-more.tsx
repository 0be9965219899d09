/** What the footer needs of an infinite query. */
export interface NextPage {
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => Promise<unknown>;
}

/** The footer of a cursor-paged table: fetches the next page of an infinite query. */
export function LoadMore({ query }: { query: NextPage }) {
  if (!query.hasNextPage) return null;
  return (
    <div className="table-footer">
      <button type="button" className="btn" onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
        {query.isFetchingNextPage ? "Loading…" : "Load more"}
      </button>
    </div>
  );
}
