// `doctor reflectors` as a script sees it, without a cluster: npm's doctor entry hands the command
// here, bad input exits 2 saying what to write, and the texts name what the console shows. The
// migration itself on the lab: reflector-migration-lab.int.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ReflectorMigrationReport } from '../../../shared/api/reflectors-contract.ts';
import { main } from '../migration/migration-cli.ts';
import { adviseReflectors } from './advisor.ts';
import { formatAdvice, formatReflectorReport } from './reflectors-cli.ts';
import { parseInterfaceAddress } from '../../../shared/net/index.ts';

function capture() {
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  return { err: () => err };
}

afterEach(() => vi.restoreAllMocks());

describe('doctor reflectors', () => {
  it('exits 2 on a topology it does not know, or no cluster, saying what to write', async () => {
    const io = capture();
    expect(await main(['--lab', 'reflectors', 'migrate', '--to', 'hub-and-spoke'])).toBe(2);
    expect(io.err()).toMatch(/argument 'hub-and-spoke' is invalid\. Allowed choices are reflectors, mesh/);
    expect(await main(['reflectors'])).toBe(2);
    expect(io.err()).toContain('Say which cluster: --lab, or --kubeconfig FILE --context NAME.');
    expect(await main(['reflectors', 'migrate'])).toBe(2);
    expect(io.err()).toMatch(/required option '--to <topology>' not specified/);
  });

  it('prints the advice with every node and the proposed reflectors, and a report step by step', () => {
    const node = (name: string, address: string) => ({ name, ipv4Address: parseInterfaceAddress(address), labels: {} });
    const advice = adviseReflectors({ context: 'lab', nodes: [node('master', '10.240.1.10/24'), node('worker-1', '10.240.1.11/24'), node('worker-3', '10.240.2.13/24')], meshEnabled: true, sessions: { established: 6, total: 6 } });
    const text = formatAdvice(advice);
    expect(text).toMatch(/^route reflectors on lab: the mesh is fine \(now: mesh\)/);
    expect(text).toMatch(/3 nodes speak BGP: a full mesh is 3 sessions/);
    expect(text).toMatch(/The agents publish 6 of 6 sessions Established/);
    expect(text).toMatch(/worker-3 {2}mesh {7}10\.240\.2\.13 {6}10\.240\.2\.0\/24/);
    expect(text).toMatch(/proposed reflectors:\n {2}master {4}the first in subnet 10\.240\.1\.0\/24\n {2}worker-3 {2}the first in subnet 10\.240\.2\.0\/24/);
    const report: ReflectorMigrationReport = {
      id: 'r', context: 'lab', to: 'reflectors', reflectors: ['master', 'worker-3'], clusterId: '244.0.0.1', state: 'failed',
      message: 'Stopped at “Wait”: worker-2: no Established session with worker-3', startedAt: '2026-12-07T00:00:00.000Z', ms: 181_500, log: [],
      steps: [
        { id: 'check', title: 'Check the nodes and their agents', state: 'done', ms: 500, detail: '4 nodes' },
        { id: 'wait-reflected', title: 'Wait', state: 'failed', ms: 180_000, detail: 'not after 180 s' },
        { id: 'mesh-off', title: 'Turn the node-to-node mesh off', state: 'skipped' },
      ],
    };
    const lines = formatReflectorReport(report).split('\n');
    expect(lines[0]).toBe('reflectors on lab: to reflectors master, worker-3: STOPPED in 181.50 s');
    expect(lines.slice(3)).toEqual([
      '  DONE     Check the nodes and their agents    0.50 s  4 nodes',
      '  FAILED   Wait                              180.00 s  not after 180 s',
      '  SKIPPED  Turn the node-to-node mesh off           -  ',
    ]);
  });
});
