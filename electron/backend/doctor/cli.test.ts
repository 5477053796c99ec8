// `doctor trace` as a script sees it: the exit status (0 reachable, 1 not, 2 bad input) and the
// output, on evidence saved from the lab (shared/doctor/testdata, see trace.test.ts) replayed with --evidence.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './cli.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../../shared/doctor/testdata/${name}.json`, import.meta.url));

function capture() {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  return { out: () => out, err: () => err };
}

afterEach(() => vi.restoreAllMocks());

describe('doctor trace (replayed evidence)', () => {
  it('exits 0 with the hops and the verdict when the path works', async () => {
    const io = capture();
    expect(await main(['trace', 'pod-1', 'pod-3', '--evidence', fixture('always-pod1-pod3')])).toBe(0);
    expect(io.out()).toMatch(/^trace pod-1 \(192\.168\.\S+ on worker-1\) -> pod-3 \(192\.168\.\S+ on worker-3\) TCP 80: IP-in-IP\n/);
    expect(io.out()).toContain(' 3 ok   worker-1 -> fabric -> worker-3  [underlay-ok]');
    expect(io.out()).toContain('REACHABLE (reachable): pod-1 reaches pod-3: IP-in-IP both ways.');
  });

  it('exits 1 with the JSON the issue names when it does not', async () => {
    const io = capture();
    expect(await main(['trace', 'pod-1', 'pod-3', '--json', '--evidence', fixture('never-pod1-pod3')])).toBe(1);
    const json = JSON.parse(io.out()) as { verdict: { ok: boolean; code: string; message: string }; hops: { node: string; kind: string; evidence: string[]; verdict: unknown }[] };
    expect(json.verdict.ok).toBe(false);
    expect(json.verdict.code).toBe('gateway-cannot-route-pods');
    // The hops after the failing one are still traced (what would happen next), the verdict names the first.
    expect(json.hops.slice(0, 3).map((h) => `${h.node} ${h.kind}`)).toEqual(['worker-1 source-pod', 'worker-1 source-node', 'worker-1 underlay']);
    expect(json.hops[2]!.verdict).toMatchObject({ status: 'fail', code: 'gateway-cannot-route-pods' });
  });

  it('exits 2 on bad input, saying what to do', async () => {
    const io = capture();
    expect(await main(['trace', 'pod-1', 'pod-3', '--port', '70000', '--evidence', fixture('always-pod1-pod3')])).toBe(2);
    expect(io.err()).toContain('a TCP port is a whole number from 1 to 65535');
    expect(await main(['trace', 'pod-1', 'pod-9', '--evidence', fixture('always-pod1-pod3')])).toBe(2);
    expect(io.err()).toContain('doctor: No pod pod-9 (the destination) in the cluster');
    expect(await main(['trace', 'pod-1', 'pod-3'])).toBe(2);
    expect(io.err()).toContain('Say which cluster: --lab, or --kubeconfig FILE --context NAME.');
  });
});
