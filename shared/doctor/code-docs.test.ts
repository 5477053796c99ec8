import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codeMeanings } from './code-docs.ts';
import { reasonCodes } from './reason-codes.ts';
import { scanCodes } from './scan-codes.ts';

const doc = readFileSync(new URL('../../docs/doctor.md', import.meta.url), 'utf8');

describe('codeMeanings', () => {
  it('takes each code and its paragraph from one section only, lines unwrapped', () => {
    const markdown = ['## Other', '### route-missing', 'not this one', '## Scan codes', '', 'Intro.', '', '### route-missing', 'The plan has a route', 'that the kernel does not.', '', '### leftover-device', 'Safe fix: `ip link del`.', '## Not done yet', '### nope', 'x'].join('\n');
    expect([...codeMeanings(markdown, 'Scan codes')]).toEqual([
      ['route-missing', 'The plan has a route that the kernel does not.'],
      ['leftover-device', 'Safe fix: `ip link del`.'],
    ]);
    expect(codeMeanings(markdown, 'Missing').size).toBe(0);
  });

  it("gives the console a meaning for every scan code and every reason code from docs/doctor.md", () => {
    const scan = codeMeanings(doc, 'Scan codes');
    const reasons = codeMeanings(doc, 'Reason codes');
    expect(scanCodes.filter((c) => !scan.get(c))).toEqual([]);
    expect(reasonCodes.filter((c) => !reasons.get(c))).toEqual([]);
    expect(scan.get('leftover-device')).toMatch(/^vxlan\.calico \(or the user-space tunl0\) is still there though no pool uses it/);
  });
});
