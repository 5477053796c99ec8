// A table's header row: one column header cell per name. Every table of the console has one,
// with scope="col" so that screen readers announce each cell's column.
import type { ReactNode } from 'react';

export function ColumnHeaders({ columns }: { columns: readonly ReactNode[] }) {
  return (
    <thead>
      <tr>
        {columns.map((column, index) => (
          <th scope="col" key={index}>
            {column}
          </th>
        ))}
      </tr>
    </thead>
  );
}
