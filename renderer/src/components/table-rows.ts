// What the console's tables (DataTable) do to their rows before drawing them: the filter box's
// words, each of which a row must contain somewhere in its searched columns, and the sort by a
// column, numbers as numbers and text as people read it (node-2 before node-10).
export interface SortOrder {
  column: string;
  descending?: boolean;
}

/** The filter box's text as lower-case words; no words keeps every row. */
export function filterWords(text: string): string[] {
  return text.trim().toLowerCase().split(/\s+/).filter(Boolean);
}

/** Whether a row's searched text (lower case) holds every word. */
export function rowMatches(haystack: string, words: readonly string[]): boolean {
  for (const word of words) if (!haystack.includes(word)) return false;
  return true;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** The rows in the column's order, a new array (stable: equal keys keep the rows' order); each key computed once. */
export function sortRows<T>(rows: readonly T[], key: (row: T) => string | number, descending = false): T[] {
  const keyed = rows.map((row, index) => ({ row, index, key: key(row) }));
  const sign = descending ? -1 : 1;
  keyed.sort((a, b) => {
    const order = typeof a.key === 'number' && typeof b.key === 'number' ? a.key - b.key : collator.compare(String(a.key), String(b.key));
    return order === 0 ? a.index - b.index : sign * order;
  });
  return keyed.map((k) => k.row);
}
