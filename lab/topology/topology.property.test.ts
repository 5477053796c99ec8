// Property: no topology file a user can write crashes the parser. Any text, and any mutation of
// the seed's file (a field replaced by any YAML value, removed, or an unknown one added), is either
// a topology or a TopologyError whose every line names the file, line and column, the field, and
// what is wanted; never another exception, never a message without a field.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { defaultTopologyFile, parseTopology, TopologyError } from './topology.ts';

const seed = parse(readFileSync(defaultTopologyFile, 'utf8')) as Record<string, unknown>;

type Path = Array<string | number>;
function paths(value: unknown, at: Path = []): Path[] {
  if (Array.isArray(value)) return [at, ...value.flatMap((v, i) => paths(v, [...at, i]))];
  if (value && typeof value === 'object') return [at, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...at, k]))];
  return [at];
}
const seedPaths = paths(seed).filter((p) => p.length > 0);

function mutated(path: Path, change: { kind: 'set'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown }): unknown {
  const copy = structuredClone(seed) as Record<string | number, unknown>;
  let parent = copy as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (change.kind === 'set') parent[last] = change.value;
  else if (change.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last])) (parent[last] as Record<string, unknown>)[change.key] = change.value;
  else parent[last] = { [change.key]: change.value };
  return copy;
}

const yamlValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('10.240.1.0/24', '10.240.1.300', '0.0.0.0/0', '192.168.0.0/16', 'worker-1', 'subnet-1', 'fabric', '', 'Always', 'CrossSubnet', -1, 33, 1e309, 'NaN'),
);
const change = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), value: yamlValue }),
  fc.constant({ kind: 'delete' as const }),
  fc.record({ kind: fc.constant('add' as const), key: fc.string({ minLength: 1, maxLength: 8 }), value: yamlValue }),
);

function check(text: string): void {
  try {
    parseTopology(text, 't.yaml');
  } catch (error) {
    if (!(error instanceof TopologyError)) throw error;
    const lines = error.message.split('\n');
    if (lines[0] === 't.yaml is not a valid lab topology:') {
      // Each problem: where, which field, and what is wanted.
      for (const line of lines.slice(1)) expect(line).toMatch(/^  t\.yaml:\d+:\d+: (\(top level\)|(?:[^:"]|"(?:[^"\\]|\\.)*")+): (must|is |exactly|there is|unknown field|a |ipipMode|\S+ (is|overlaps)|subnet )/);
    } else {
      for (const line of lines) expect(line).toMatch(/^t\.yaml:\d+:\d+: \S/);
    }
    for (const line of lines) expect(line).not.toMatch(/Invalid input|expected \w+, received|undefined|\[object Object\]/);
  }
}

describe('lab topology parser, any input', () => {
  it('any mutation of the seed file is a topology or a TopologyError naming the field', () => {
    fc.assert(
      fc.property(fc.constantFrom(...seedPaths), change, (path, c) => check(stringify(mutated(path, c)))),
      { numRuns: 600 },
    );
  });

  it('any text is a topology or a TopologyError with a line and column', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => check(text)), { numRuns: 400 });
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => check(stringify(value))), { numRuns: 300 });
  });
});
