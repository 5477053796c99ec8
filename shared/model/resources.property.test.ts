// Property: no YAML a user pastes or applies as Calico manifests crashes the parser (the agent's
// `apply`, the console's YAML): any text, and any mutation of valid manifests, is a list of
// resources or a ValidationError naming the document, the field or line, and what is wanted.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseCalicoManifests } from './resources.ts';
import { ValidationError } from './validation.ts';

function check(text: string): void {
  try {
    parseCalicoManifests(text);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    expect(error.subject).toMatch(/\(?document \d+\)?$/);
    for (const issue of error.issues) {
      expect(issue.message).not.toBe('');
      expect(issue.message).not.toMatch(/Invalid input|expected \w+, received|\[object Object\]/);
    }
  }
}

const pool = { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/8', ipipMode: 'Always' } };
const peer = { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.1', asNumber: 64512 } };
const pieces = fc.constantFrom('*', '&', '!', '!!', '---', '...', ':', '- ', '{', '}', '[', ']', '"', "'", '#', '\n', '  ', 'a', '*a', '&a ', '<<: *a', '%YAML 1.2\n', 'kind: IPPool\n', 'spec:\n  cidr: ', '10.0.0.0/8');

describe('Calico manifests parser, any text', () => {
  it('any text of YAML-ish pieces is resources or a ValidationError naming the document', () => {
    fc.assert(fc.property(fc.array(pieces, { maxLength: 20 }), (parts) => check(parts.join(''))), { numRuns: 800 });
    fc.assert(fc.property(fc.string({ maxLength: 100 }), (text) => check(text)), { numRuns: 300 });
  });

  it('valid manifests with any value put in, any document order', () => {
    const key = fc.constantFrom('apiVersion', 'kind', 'metadata', 'spec', 'cidr', 'peerIP', 'asNumber', 'name');
    fc.assert(
      fc.property(fc.shuffledSubarray([pool, peer, null]), key, fc.jsonValue({ maxDepth: 2 }), (docs, at, value) => {
        const text = docs
          .map((d) => {
            if (!d) return '';
            const copy = structuredClone(d) as unknown as Record<string, Record<string, unknown>>;
            if (at in copy) (copy as Record<string, unknown>)[at] = value;
            else if (at in copy.spec!) copy.spec![at] = value;
            else if (at === 'name') copy.metadata!.name = value;
            return stringify(copy);
          })
          .join('---\n');
        check(text);
      }),
      { numRuns: 500 },
    );
  });
});
