// The claim on a numbered test bed: a live run's bed is never taken, an aborted run's is.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runResult, runSync } from '../sh.ts';
import { claimBed, releaseBed } from './network-claim.ts';

const bridge = (id: number) => `gclaim${id}br`;
const cleared: number[] = [];
const claim = (preferred: number) =>
  claimBed({
    bridge,
    preferred,
    range: [240, 243],
    clear: async (id) => {
      cleared.push(id);
      await runResult('ip', ['link', 'del', bridge(id)]);
    },
  });

afterEach(async () => {
  for (let id = 240; id <= 243; id++) {
    await runResult('ip', ['link', 'del', bridge(id)]);
    releaseBed(bridge(id));
  }
  cleared.length = 0;
});

describe('test bed claims', () => {
  it('gives the preferred number, and another to a second claim while the first is held', async () => {
    expect(await claim(241)).toBe(241);
    expect(await claim(241)).toBe(240);
    expect(runSync('ip', ['-j', 'link', 'show', 'dev', bridge(241)])).toContain(`pid=${process.pid}`);
  });

  it('skips a bed held by another running process and takes over one whose process has ended', async () => {
    const holder = spawn('sleep', ['30']);
    const ended = spawn('true');
    await new Promise((resolve) => ended.once('exit', resolve));
    try {
      runSync('ip', ['link', 'add', bridge(242), 'type', 'bridge']);
      runSync('ip', ['link', 'set', 'dev', bridge(242), 'alias', `gingham-test-bed pid=${holder.pid}`]);
      runSync('ip', ['link', 'add', bridge(243), 'type', 'bridge']);
      runSync('ip', ['link', 'set', 'dev', bridge(243), 'alias', `gingham-test-bed pid=${ended.pid}`]);
      expect(await claim(242)).toBe(240);
      expect(await claim(243)).toBe(243);
      expect(cleared).toEqual([243]);
    } finally {
      holder.kill();
    }
  });

  it('says so when every number is held', async () => {
    for (const id of [240, 241, 242, 243]) await claim(id);
    await expect(claim(240)).rejects.toThrow(/every test bed number from 240 to 243 is in use/);
  });
});
