import { useId, type ReactNode } from "react";
import { messageOf } from "../lib/errors.ts";
import { DataTable, type Column } from "./data-table.tsx";
import { listFailed, LoadMore, pageRows, type NextPage } from "./load-more.tsx";

/** What the card needs of a cursor-paged query (TanStack's infinite query has it all). */
export interface PagedQuery<T> extends NextPage {
  data?: { pages: ReadonlyArray<{ items: readonly T[] }> } | undefined;
  isPending: boolean;
  isFetching: boolean;
  isError: boolean;
  error: unknown;
}

/**
 * A card holding one history, newest first: its heading, the table (named by the heading),
 * the query's error in place of the table, and a "Load more" footer while older pages remain.
 */
export function HistoryCard<T>(props: {
  title: string;
  query: PagedQuery<T>;
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  /** Said when nothing was ever recorded. */
  empty: ReactNode;
  selected?: (row: T) => boolean;
  className?: string;
  testId?: string;
}) {
  const heading = useId();
  const { query } = props;
  const rows = pageRows(query.data?.pages, props.rowKey);
  return (
    <section className="card card-flush" aria-labelledby={heading}>
      <div className="table-toolbar">
        <h2 id={heading}>{props.title}</h2>
      </div>
      {listFailed(query) ? (
        <p className="alert alert-error table-message" role="alert">{messageOf(query.error)}</p>
      ) : (
        <>
          <DataTable
            label={props.title}
            columns={props.columns}
            rows={rows}
            rowKey={props.rowKey}
            selected={props.selected}
            busy={query.isFetching}
            empty={query.isPending ? "Loading…" : props.empty}
            className={props.className}
            testId={props.testId}
          />
          <LoadMore query={query} />
        </>
      )}
    </section>
  );
}
