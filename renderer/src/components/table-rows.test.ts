import { describe, expect, it } from 'vitest';
import { filterWords, rowMatches, sortRows } from './table-rows.ts';

describe('the tables’ filter and sort', () => {
  it('keeps a row only when it holds every word of the filter, in any case and order', () => {
    const words = filterWords('  TUNL0   192.168.4. ');
    expect(words).toEqual(['tunl0', '192.168.4.']);
    expect(rowMatches('192.168.4.0\u0000tunl0\u0000pool default', words)).toBe(true);
    expect(rowMatches('192.168.5.0\u0000tunl0', words)).toBe(false);
    expect(rowMatches('anything', filterWords('   '))).toBe(true);
  });

  it('sorts names as people read them, numbers as numbers, and keeps equal rows in their order', () => {
    const nodes = ['node-10', 'node-2', 'Node-1', 'node-2b'].map((name, i) => ({ name, sessions: [3, 499, 3, 0][i]!, i }));
    expect(sortRows(nodes, (n) => n.name).map((n) => n.name)).toEqual(['Node-1', 'node-2', 'node-2b', 'node-10']);
    expect(sortRows(nodes, (n) => n.name, true).map((n) => n.name)).toEqual(['node-10', 'node-2b', 'node-2', 'Node-1']);
    expect(sortRows(nodes, (n) => n.sessions).map((n) => n.i)).toEqual([3, 0, 2, 1]);
    expect(sortRows(nodes, (n) => n.sessions, true).map((n) => n.i)).toEqual([1, 0, 2, 3]);
  });
});
