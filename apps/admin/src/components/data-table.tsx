import type { ReactNode } from "react";

export interface Column<T> {
  /** Column id (also the React key). */
  id: string;
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** Numbers line up on the right. */
  align?: "right";
  /** Hidden below 900 px wide, for secondary columns. */
  secondary?: boolean;
  /** The cells' own class (a date's colour, a long text that wraps). */
  className?: string;
}

/** A cell's or header's classes: alignment, secondary, and the column's own. */
function classesOf(c: { align?: "right"; secondary?: boolean }, own?: string): string | undefined {
  return [c.align === "right" ? "num" : "", c.secondary ? "secondary" : "", own ?? ""].join(" ").trim() || undefined;
}

/**
 * The one table of the usage pages: a horizontally scrolling wrapper (nothing clips at any
 * width), sticky header, optional clickable rows (keyboard too), and empty/error states.
 */
export function DataTable<T>(props: {
  label: string;
  columns: readonly Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  onRowClick?: ((row: T) => void) | undefined;
  /** Rows shown as chosen (the one open above the table). */
  selected?: ((row: T) => boolean) | undefined;
  busy?: boolean;
  empty?: ReactNode;
  testId?: string | undefined;
  /** The table's own class, for a page's styling of it. */
  className?: string | undefined;
}) {
  const { columns, rows, onRowClick } = props;
  return (
    <div className="table-wrap data-table-wrap" data-testid={props.testId}>
      <table className={`table data-table${props.className ? ` ${props.className}` : ""}`} aria-label={props.label} aria-busy={props.busy || undefined}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.id} scope="col" className={classesOf(c)}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td className="table-empty" colSpan={columns.length}>{props.empty ?? "Nothing here yet."}</td>
            </tr>
          ) : (
            rows.map((row) => (
              <tr
                key={props.rowKey(row)}
                className={onRowClick ? "clickable" : undefined}
                aria-selected={props.selected?.(row) || undefined}
                tabIndex={onRowClick ? 0 : undefined}
                onClick={onRowClick ? () => onRowClick(row) : undefined}
                onKeyDown={onRowClick ? (e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), onRowClick(row)) : undefined}
              >
                {columns.map((c) => (
                  <td key={c.id} className={classesOf(c, c.className)}>
                    {c.cell(row)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/** A tiny inline bar chart of a series (e.g. requests per day). */
export function Sparkline({ values, label }: { values: readonly number[]; label: string }) {
  const max = Math.max(1, ...values);
  const w = 4;
  return (
    <svg className="sparkline" width={values.length * (w + 1)} height={20} role="img" aria-label={label}>
      {values.map((v, i) => {
        const h = Math.max(v > 0 ? 2 : 0, Math.round((v / max) * 20));
        return <rect key={i} x={i * (w + 1)} y={20 - h} width={w} height={h} rx={1} />;
      })}
    </svg>
  );
}
