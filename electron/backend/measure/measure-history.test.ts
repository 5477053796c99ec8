import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MeasureRun } from '../../../shared/api/measure-contract.ts';
import type { Measurement } from '../../../shared/api/measurement.ts';
import { MeasureHistory } from './measure-history.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const fresh = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gmeasure-history-'));
  dirs.push(dir);
  return dir;
};
const measurement = (gbit: number): Measurement => ({
  from: '192.168.0.65', to: '192.168.0.193', at: '2026-12-03T07:00:00.000Z',
  streams: [{ streams: 1, seconds: 3, bytes: 1e9, gbitPerSecond: gbit }],
  requestResponse: { seconds: 3, transactions: 9000, perSecond: 3000, p50Us: 150, p99Us: 900 },
  pathMtu: { mtu: 1480, interfaceMtu: 1480 },
});
const run = (gbit: number): MeasureRun => ({ at: '2026-12-03T07:00:00.000Z', mode: 'IPIP Always', source: { pod: 'pod-1', node: 'worker-1' }, destination: { pod: 'pod-3', node: 'worker-3' }, pods: measurement(gbit), hosts: measurement(4) });

describe('the measurements kept per cluster', () => {
  it('keeps runs per context, oldest first, the last 200', () => {
    const history = new MeasureHistory(fresh());
    expect(history.read('lab')).toEqual([]);
    for (let i = 0; i < 205; i++) history.append('lab', run(i));
    history.append('other/ctx', run(1));
    const runs = history.read('lab');
    expect(runs).toHaveLength(200);
    expect(runs[0]!.pods.streams[0]!.gbitPerSecond).toBe(5);
    expect(history.read('other/ctx')).toHaveLength(1);
  });

  it('moves a file it cannot read aside, says where, and never overwrites it', () => {
    const dir = fresh();
    const history = new MeasureHistory(dir);
    for (const garbage of ['{"cut short', JSON.stringify([{ at: 1 }])]) {
      writeFileSync(path.join(dir, 'lab.json'), garbage);
      expect(() => history.read('lab')).toThrow(/could not be read; the file was moved to .*lab\.json\.unreadable-\d+ \(nothing in it was deleted\)/);
      expect(existsSync(path.join(dir, 'lab.json'))).toBe(false);
      const aside = readdirSync(dir).filter((f) => f.startsWith('lab.json.unreadable-'));
      expect(aside.map((f) => readFileSync(path.join(dir, f), 'utf8'))).toContain(garbage);
      history.append('lab', run(1));
      expect(history.read('lab')).toHaveLength(1);
      rmSync(path.join(dir, 'lab.json'));
    }
  });
});
