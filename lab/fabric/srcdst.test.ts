// The src/dst ruleset: one source and one destination rule per checked node, none for the others,
// and the table replaced as a whole (declared, deleted, declared again: atomic in one nft run).
import { describe, expect, it } from 'vitest';
import { srcdstRuleset } from './srcdst.ts';

describe('src/dst checks ruleset', () => {
  const nodes = [
    { name: 'worker-1', address: '10.240.1.11', checks: true },
    { name: 'worker-2', address: '10.240.1.12', checks: false },
  ];

  it('checks exactly the nodes whose checks are on, both ways', () => {
    const rules = srcdstRuleset(nodes);
    expect(rules).toContain('iifname "n-worker-1" ether type ip ip saddr != 10.240.1.11 counter drop comment "worker-1: source check"');
    expect(rules).toContain('oifname "n-worker-1" ether type ip ip daddr != 10.240.1.11 counter drop comment "worker-1: destination check"');
    expect(rules).not.toContain('worker-2');
  });

  it('replaces the whole table in one run, so that a switch is atomic', () => {
    const lines = srcdstRuleset(nodes).split('\n');
    expect(lines.slice(0, 3)).toEqual(['table bridge lab-srcdst', 'delete table bridge lab-srcdst', 'table bridge lab-srcdst {']);
    expect(srcdstRuleset(nodes.map((n) => ({ ...n, checks: false })))).not.toMatch(/drop/);
  });
});
