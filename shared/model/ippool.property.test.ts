// Property: no IPPool a user loads or types (YAML applied or pasted, the console's pool form) crashes
// the parser. Any mutation of a valid pool (a field set to any value, removed, or an unknown one
// added) and any value at all is either a pool or a ValidationError whose every issue names its
// field and says what is wanted, in the model's words; never another exception.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseIPPool } from './ippool.ts';
import { ValidationError } from './validation.ts';

const valid = {
  apiVersion: 'crd.projectcalico.org/v1',
  kind: 'IPPool',
  metadata: { name: 'default-ipv4-ippool' },
  spec: { cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false, nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'] },
};

const fields = ['apiVersion', 'kind', 'metadata', 'metadata.name', 'spec', ...Object.keys(valid.spec).map((k) => `spec.${k}`), 'spec.allowedUses.0'];
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('10.0.0.0/8', '10.0.0.1/8', '::/0', '256.0.0.0/8', 'Always', 'CrossSubnet', '', 'LoadBalancer', 19, 33, 26.5, -0, 'projectcalico.org/v3', 'x'.repeat(300)),
);

function mutate(path: string, change: { set: unknown } | { remove: true } | { add: string; value: unknown }): unknown {
  const copy = structuredClone(valid) as Record<string, unknown>;
  const parts = path.split('.');
  let parent = copy as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) parent = parent[part] as Record<string, unknown>;
  const last = parts.at(-1)!;
  if ('set' in change) parent[last] = change.set;
  else if ('remove' in change) delete parent[last];
  else if (parent[last] && typeof parent[last] === 'object') (parent[last] as Record<string, unknown>)[change.add] = change.value;
  return copy;
}

function check(input: unknown): void {
  try {
    parseIPPool(input);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(issue.path === '' || /^[\w.[\]-]+$/.test(issue.path)).toBe(true);
      expect(issue.message).toMatch(/^(must|is |cannot|LoadBalancer|a LoadBalancer|has |should )/);
      expect(issue.message).not.toMatch(/Invalid input|expected \w+, received|\[object Object\]/);
    }
    expect(error.message.split('\n')[0]).toMatch(/^IPPool( .*)? is invalid:$/);
  }
}

describe('IPPool parser, any input', () => {
  it('any mutation of a valid pool, as YAML read back, is a pool or a ValidationError naming the field', () => {
    const change = fc.oneof(
      fc.record({ set: value }),
      fc.constant({ remove: true as const }),
      fc.record({ add: fc.string({ minLength: 1, maxLength: 10 }), value }),
    );
    fc.assert(fc.property(fc.constantFrom(...fields), change, (path, c) => check(parse(stringify(mutate(path, c))))), { numRuns: 800 });
  });

  it('any value at all is refused in words, never thrown as something else', () => {
    fc.assert(fc.property(fc.anything(), (input) => check(input)), { numRuns: 500 });
  });
});
