// The streamed route listing's splitter: however the text is cut into chunks, each object of the
// array comes out whole, nested objects (an MTU's metrics) and braces inside strings included.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forEachKernelRouteText, JsonObjectSplitter } from './route-stream.ts';

const routes = [
  { type: '1', dst: 'default', gateway: '192.0.2.1', dev: 'eth0', protocol: '3', scope: '0', flags: [] },
  { type: '1', dst: '16.0.1.0/24', gateway: '10.0.0.2', dev: 'tunl0', protocol: '71', scope: '0', metrics: [{ mtu: 1480 }], flags: ['onlink'] },
  { type: '6', dst: '192.168.0.0/26', protocol: '71', scope: '0', flags: [] },
  { type: '1', dst: '10.9.0.0/16', dev: 'we{ir}d"\\\\dev', protocol: '12', scope: '253', flags: [] },
];

describe('JsonObjectSplitter', () => {
  it('hands out each object of the array whole, wherever the chunks are cut', () => {
    const text = JSON.stringify(routes) + '\n';
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 12 }), (cuts) => {
      const out: unknown[] = [];
      const splitter = new JsonObjectSplitter((object) => out.push(JSON.parse(object)));
      let last = 0;
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        splitter.push(text.slice(last, cut));
        last = cut;
      }
      splitter.push(text.slice(last));
      expect(out).toEqual(routes);
    }));
  });

  it('reads the main table through ip, and a listing it cannot read is an error of the read, not of the process', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gingham-route-stream-'));
    const oldPath = process.env.PATH;
    try {
      // An `ip` that prints two routes, one of them not JSON.
      writeFileSync(path.join(dir, 'ip'), `#!/bin/sh\nprintf '[{"type":"1","dst":"10.0.0.0/24","dev":"eth0","protocol":"71","scope":"0","flags":[]},{"dst":nope}]'\n`, { mode: 0o755 });
      process.env.PATH = `${dir}:${oldPath}`;
      const seen: string[] = [];
      // The visitor parses each route (as the snapshot does for the routes it keeps as objects).
      await expect(forEachKernelRouteText((text) => seen.push((JSON.parse(text) as { dst: string }).dst))).rejects.toThrow(/cannot read ip route show table main/);
      expect(seen).toEqual(['10.0.0.0/24']);
    } finally {
      process.env.PATH = oldPath;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
