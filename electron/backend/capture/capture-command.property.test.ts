// Property: a capture filter the user types reaches tcpdump on the node as exactly one argument,
// whatever it holds (quotes, $(...), backticks, semicolons, globs, unicode): the command the
// console sends over SSH is run here by a real sh with a stand-in tcpdump that records its argv.
// Filters the contract refuses (newlines, NUL, over 1024 characters) are refused with its words.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureFilter, CaptureInterface } from '../../../shared/api/capture-contract.ts';
import { tcpdumpCommand } from './capture-session.ts';

const bin = mkdtempSync(path.join(tmpdir(), 'gcapprop-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));
// Prints each argument on its own, NUL-terminated: what the real tcpdump would be handed.
writeFileSync(path.join(bin, 'tcpdump'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done\n');
writeFileSync(path.join(bin, 'sudo'), '#!/bin/sh\nshift; exec "$@"\n');
chmodSync(path.join(bin, 'tcpdump'), 0o755);
chmodSync(path.join(bin, 'sudo'), 0o755);

const own = 'not (host 10.0.0.1 and tcp port 50000 and host 10.0.0.2 and tcp port 22)';
const filterChars = fc.oneof(fc.constantFrom("'", '"', '$', '`', '\\', ';', '&', '|', '(', ')', '*', '?', '[', ']', ' ', '\t', '#', '!', '~', '{', '}', '<', '>', '%', 'é', '😀'), fc.string({ maxLength: 4 }));
const filter = fc.array(filterChars, { maxLength: 40 }).map((parts) => parts.join('').replace(/[\0\n\r]/g, ''));

describe('capture filter on the node’s command line, any filter', () => {
  it('reaches tcpdump as one argument, unchanged', () => {
    fc.assert(
      fc.property(filter, fc.constantFrom('ens5', 'any', 'tunl0', 'vxlan.calico', 'cali1234@if3'), (text, iface) => {
        expect(CaptureFilter.safeParse(text).success).toBe(text.length <= 1024);
        const result = spawnSync('/bin/sh', ['-c', tcpdumpCommand(iface, text)], {
          env: { PATH: `${bin}:/usr/bin:/bin`, SSH_CONNECTION: '10.0.0.1 50000 10.0.0.2 22' },
          encoding: 'utf8',
        });
        expect(result.status).toBe(0);
        const argv = result.stdout.split('\0').slice(0, -1);
        const user = text.trim();
        expect(argv).toEqual(['-i', iface, '-U', '-w', '-', '-B', '8192', '-s', '0', '-n', user ? `(${user}) and ${own}` : own]);
      }),
      { numRuns: 150 },
    );
  });

  it('what the contract refuses is refused in its words, and an interface name never reaches the shell unchecked', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.constantFrom('\n', '\r', '\0'), fc.string({ maxLength: 20 }), (a, bad, b) => {
        const parsed = CaptureFilter.safeParse(`${a}${bad}${b}`);
        expect(parsed.success).toBe(false);
        expect(parsed.error!.issues[0]!.message).toBe('a single-line filter');
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (iface) => {
        const allowed = CaptureInterface.safeParse(iface).success;
        if (allowed) expect(() => tcpdumpCommand(iface, '')).not.toThrow();
        else expect(() => tcpdumpCommand(iface, '')).toThrow(/is not an interface name/);
      }),
    );
  });
});
