// `doctor switch` as a script sees it, without a cluster: bad input exits 2 saying what to do,
// every other command reaches the doctor unchanged, and the report's text names each stage, node
// and pair. The switch itself on the lab: switch-lab.int.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SwitchReport } from '../../../shared/switch/switch-report.ts';
import { commandOf, formatSwitchReport, main } from './switch-cli.ts';

function capture() {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  return { out: () => out, err: () => err };
}

afterEach(() => vi.restoreAllMocks());

describe('doctor switch', () => {
  it('finds the command after the global options', () => {
    expect(commandOf(['--lab', 'switch', 'p', 'never'])).toBe('switch');
    expect(commandOf(['--kubeconfig', '/k', '--context', 'c', 'switch'])).toBe('switch');
    expect(commandOf(['--kubeconfig=/k', 'trace', 'a', 'b'])).toBe('trace');
    expect(commandOf(['--lab'])).toBeUndefined();
  });

  it('exits 2 on a mode it does not know, or no cluster, saying what to write', async () => {
    const io = capture();
    expect(await main(['--lab', 'switch', 'default-ipv4-ippool', 'wireguard'])).toBe(2);
    expect(io.err()).toContain('"wireguard" is not a mode: use one of IPIP Always, IPIP CrossSubnet, VXLAN Always, VXLAN CrossSubnet, Never');
    expect(await main(['switch', 'default-ipv4-ippool', 'vxlan'])).toBe(2);
    expect(io.err()).toContain('Say which cluster: --lab, or --kubeconfig FILE --context NAME.');
    expect(await main(['switch', 'default-ipv4-ippool'])).toBe(2);
  });

  it("hands the doctor's own commands to the doctor", async () => {
    const io = capture();
    expect(await main(['trace', 'pod-1'])).toBe(2);
    expect(io.err()).toMatch(/missing required argument 'destination'/);
  });

  it('prints each stage with its nodes and pairs, the rollback, the failed pair and the loss', () => {
    const stage = {
      name: 'all',
      nodes: ['worker-1', 'worker-3'],
      how: 'patch IPPool default-ipv4-ippool to Never: every node at once',
      startedMs: 900,
      results: [
        { node: 'worker-1', converged: true, ms: 420, detail: 'Never: 7 routes as planned' },
        { node: 'worker-3', converged: true, ms: 610, detail: 'Never: 7 routes as planned' },
      ],
      pairs: [{ from: 'pod-1', to: 'pod-3', before: true, after: false, error: 'ping and HTTP no longer answer' }],
      verdict: 'worse' as const,
      reason: 'a pair that answered before no longer answers: pod-1 -> pod-3',
    };
    const report = {
      plan: { pool: 'default-ipv4-ippool', context: 'lab', from: { mode: 'IPIP Always' }, to: { mode: 'Never' } },
      state: 'rolled-back',
      phase: 'rolled back to IPIP Always',
      ms: 31_250,
      stages: [stage],
      rollback: { reason: stage.reason, verified: true, verification: { ...stage, name: 'rollback', verdict: 'ok', reason: 'every node converged', pairs: [{ ...stage.pairs[0]!, after: true, error: undefined }] } },
      failures: [{ from: 'pod-1', to: 'pod-3', why: 'ping and HTTP no longer answer; the doctor: the gateway drops it' }],
      loss: [{ from: 'pod-1', to: 'pod-3', sent: 3000, received: 1200, lost: 1800, longestGapMs: 18_000 }],
    } as unknown as SwitchReport;
    expect(formatSwitchReport(report).split('\n')).toEqual([
      'switch IP pool default-ipv4-ippool on lab: IPIP Always -> Never: ROLLED BACK in 31.25 s',
      '',
      'stage all (worker-1, worker-3): worse: a pair that answered before no longer answers: pod-1 -> pod-3',
      '  patch IPPool default-ipv4-ippool to Never: every node at once',
      '  worker-1  converged in 0.42 s  Never: 7 routes as planned',
      '  worker-3  converged in 0.61 s  Never: 7 routes as planned',
      '  pod-1 -> pod-3      STOPPED ANSWERING  ping and HTTP no longer answer',
      '',
      'rollback: verified: a pair that answered before no longer answers: pod-1 -> pod-3',
      '',
      'stage rollback (worker-1, worker-3): ok: every node converged',
      '  patch IPPool default-ipv4-ippool to Never: every node at once',
      '  worker-1  converged in 0.42 s  Never: 7 routes as planned',
      '  worker-3  converged in 0.61 s  Never: 7 routes as planned',
      '  pod-1 -> pod-3      answers',
      '',
      'failed pair pod-1 -> pod-3: ping and HTTP no longer answer; the doctor: the gateway drops it',
      '',
      'packets lost through the switch (a ping at 100 per second per pair):',
      '  pod-1 -> pod-3         1800 of   3000  longest gap 18000 ms',
    ]);
  });
});
