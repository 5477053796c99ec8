// The console's one table for lists that grow with the cluster (Nodes, Routes, BGP peers): a filter
// box, a sticky header whose columns sort, and only the rows in view (plus 6 on each side) in the DOM,
// drawn by @tanstack/react-virtual, so that 10,000 routes show, filter and scroll as fast as ten.
// It stays a real <table> (caption, column and row headers, aria-rowcount and aria-rowindex for
// the rows not drawn), so screen readers and the role-based e2e tests read it as before; each row
// is a CSS grid of the columns' widths, which a native table layout cannot keep still while rows
// come and go. Rows are one height (rowHeight) and never measured, unless tallRows: a scroll then
// lays out only the rows it brings in.
import { memo, useCallback, useMemo, useRef, useState, type CSSProperties, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { filterWords, rowMatches, sortRows, type SortOrder } from './table-rows.ts';
import './data-table.css';

export interface Column<T> {
  id: string;
  header: ReactNode;
  /** The column's grid track: `8rem`, `minmax(10rem, 1fr)`. */
  width: string;
  cell(row: T): ReactNode;
  /** What the filter box searches in this column; left out of the filter without it. */
  text?(row: T): string;
  /** The column sorts by this (numbers numerically, text as people read it); not sortable without it. */
  sort?(row: T): string | number;
  /** The row's header cell (`<th scope="row">`), as the node's name in a node table. */
  rowHeader?: boolean;
  className?: string | ((row: T) => string | undefined);
  /** The cell's `data-*` attributes (what the e2e tests read: a node's health, its session counts). */
  cellAttributes?(row: T): RowAttributes;
}

/** Attributes a page puts on a row: its `data-*` keys (the e2e tests find rows by them) and a class. */
export type RowAttributes = Record<`data-${string}`, string | number | undefined> & { className?: string | undefined };

export interface DataTableProps<T> {
  caption: ReactNode | ((shown: number, total: number) => ReactNode);
  columns: readonly Column<T>[];
  rows: readonly T[];
  rowKey(row: T): string;
  rowAttributes?(row: T): RowAttributes;
  /** The filter box's accessible name (`Filter routes`); no box without it. */
  filterLabel?: string;
  filterPlaceholder?: string;
  /** The filter's text, when the page keeps it (so that it outlives the table, as across a change of node). */
  filter?: string;
  onFilterChange?(text: string): void;
  /** The page's own conditions (a checkbox), applied with the filter box's words. */
  where?(row: T): boolean;
  initialSort?: SortOrder;
  /** Controls shown beside the filter box. */
  toolbar?: ReactNode;
  className?: string;
  /**
   * Each row's height (px). Rows are drawn exactly this tall, their cells on one line (cut with an
   * ellipsis), so that none is measured: a scroll through 10,000 of them then lays out only the
   * rows it brings in. With `tallRows`, only what a row measures before it is drawn.
   */
  rowHeight?: number;
  /**
   * Rows take the height of their content (a list of problems, an install's progress): each is
   * measured once drawn (a ResizeObserver), and the rows after it move. For the tables of nodes,
   * whose cells hold more than a line.
   */
  tallRows?: boolean;
  /** The scroll area's height limit: the table scrolls within it, its header stuck at the top. */
  maxHeight?: string;
}

/** A track's smallest width in rem: `8rem`, or the minimum of `minmax(8rem, 1fr)`; 0 for other forms. */
function smallestRem(track: string): number {
  const found = /^(?:minmax\(\s*)?([\d.]+)rem/.exec(track);
  return found ? Number(found[1]) : 0;
}

/** Rows drawn beyond each edge of the scroll area, so that a fast scroll does not show blank space. */
const overscan = 6;

export function DataTable<T>(props: DataTableProps<T>) {
  const { columns, rows, where, rowHeight = 33, tallRows = false } = props;
  const [ownFilter, setOwnFilter] = useState('');
  const filter = props.filter ?? ownFilter;
  const setFilter = props.onFilterChange ?? setOwnFilter;
  const [order, setOrder] = useState<SortOrder | undefined>(props.initialSort);
  const scroller = useRef<HTMLDivElement>(null);

  // Each row's searchable text once per row object (not per keystroke, nor per update of other
  // rows): a page that keeps its unchanged rows' objects pays only for the rows that changed.
  const haystacks = useMemo(() => new WeakMap<object, string>(), [columns]);
  const haystack = useCallback(
    (row: T) => {
      let text = haystacks.get(row as object);
      if (text === undefined) {
        text = columns.map((c) => c.text?.(row) ?? '').join('\u0000').toLowerCase();
        haystacks.set(row as object, text);
      }
      return text;
    },
    [haystacks, columns],
  );
  const sorted = useMemo(() => {
    const column = order && columns.find((c) => c.id === order.column);
    return column?.sort ? sortRows(rows, column.sort, order!.descending) : rows;
  }, [rows, columns, order]);
  const shown = useMemo(() => {
    const words = filterWords(filter);
    if (words.length === 0 && !where) return sorted;
    return sorted.filter((row) => (!where || where(row)) && rowMatches(haystack(row), words));
  }, [sorted, haystack, filter, where]);

  // The virtualizer lays out every row again (10,000 keys) whenever its key function is a new one:
  // a new function only with new rows, not with each render (each frame of a scroll draws one).
  const rowKey = useRef(props.rowKey);
  rowKey.current = props.rowKey;
  const getItemKey = useCallback((index: number) => rowKey.current(shown[index]!), [shown]);
  const estimateSize = useCallback(() => rowHeight, [rowHeight]);
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scroller.current,
    estimateSize,
    overscan,
    getItemKey,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length > 0 ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  const template = columns.map((c) => c.width).join(' ');
  // The table is at least as wide as its columns' smallest widths (it then scrolls sideways), and
  // no wider than its box allows otherwise: the flexible columns share what is left.
  const minWidth = `${columns.reduce((sum, c) => sum + smallestRem(c.width), 0)}rem`;

  const sortBy = (column: Column<T>) =>
    setOrder((before) => (before?.column === column.id ? { column: column.id, descending: !before.descending } : { column: column.id, descending: false }));
  const caption = typeof props.caption === 'function' ? props.caption(shown.length, rows.length) : props.caption;

  return (
    <div className={`data-table ${props.className ?? ''}`}>
      {(props.filterLabel || props.toolbar) && (
        <div className="toolbar">
          {props.filterLabel && (
            <label>
              {props.filterLabel}
              <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder={props.filterPlaceholder} spellCheck={false} autoComplete="off" />
            </label>
          )}
          {props.toolbar}
        </div>
      )}
      <div className="data-table-scroll" ref={scroller} style={{ maxHeight: props.maxHeight ?? '70vh' }}>
        <table aria-rowcount={shown.length + 1} className={tallRows ? 'tall-rows' : 'fixed-rows'} style={{ '--columns': template, '--row-height': `${rowHeight}px`, minWidth } as CSSProperties}>
          <caption>{caption}</caption>
          <thead>
            <tr aria-rowindex={1}>
              {columns.map((column) => {
                const sorting = order?.column === column.id ? (order.descending ? 'descending' : 'ascending') : undefined;
                return (
                  <th scope="col" key={column.id} aria-sort={column.sort ? (sorting ?? 'none') : undefined}>
                    {column.sort ? (
                      <button type="button" className="sort" onClick={() => sortBy(column)}>
                        {column.header}
                        <span aria-hidden="true" className="sort-mark">
                          {sorting === 'ascending' ? ' ▲' : sorting === 'descending' ? ' ▼' : ''}
                        </span>
                      </button>
                    ) : (
                      column.header
                    )}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody style={{ paddingTop: padTop, paddingBottom: padBottom }}>
            {items.map((item) => (
              <Row key={item.key} row={shown[item.index]!} index={item.index} columns={columns} attributes={props.rowAttributes} measure={tallRows ? virtualizer.measureElement : undefined} />
            ))}
          </tbody>
        </table>
        {shown.length === 0 && rows.length > 0 && <p className="hint data-table-none">No row matches the filter.</p>}
      </div>
    </div>
  );
}

interface RowProps<T> {
  row: T;
  index: number;
  columns: readonly Column<T>[];
  attributes: ((row: T) => RowAttributes) | undefined;
  /** The virtualizer's measure, for rows of their content's height; none for rows of a fixed height. */
  measure: ((element: Element | null) => void) | undefined;
}

/** One row; drawn again only when its row, place or columns change, so a scroll draws only the rows it brings in. */
const Row = memo(function Row<T>({ row, index, columns, attributes, measure }: RowProps<T>) {
  const { className, ...data } = attributes?.(row) ?? {};
  return (
    <tr ref={measure} data-index={index} aria-rowindex={index + 2} className={className} {...data}>
      {columns.map((column) => {
        const { className: extraClass, ...cellData } = column.cellAttributes?.(row) ?? {};
        const cellClass = [typeof column.className === 'function' ? column.className(row) : column.className, extraClass].filter(Boolean).join(' ') || undefined;
        return column.rowHeader ? (
          <th scope="row" key={column.id} className={cellClass} {...cellData}>
            {column.cell(row)}
          </th>
        ) : (
          <td key={column.id} className={cellClass} {...cellData}>
            {column.cell(row)}
          </td>
        );
      })}
    </tr>
  );
}) as <T>(props: RowProps<T>) => ReactNode;
