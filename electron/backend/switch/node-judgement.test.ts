import { describe, expect, it } from 'vitest';
import { judgeNode, type NodeObservation } from './node-judgement.ts';

const routes = { converged: true, detail: '9 routes as planned' };
const pool = 'default-ipv4-ippool';
const seen = (mode: NodeObservation['mode'], accepts: ('IPIP' | 'VXLAN')[], sends: ('IPIP' | 'VXLAN')[]): NodeObservation => ({ node: 'worker-3', mode, routes, published: { accepts, sends, modes: { [pool]: mode! } } });

describe('judgeNode', () => {
  it('takes a canary that applies the target, and says what it sends: the new way only to peers that accept it', () => {
    const want = { pool, mode: 'VXLAN Always', target: 'VXLAN Always', final: false } as const;
    expect(judgeNode(seen('VXLAN Always', ['IPIP', 'VXLAN'], ['VXLAN']), want)).toEqual({ converged: true, detail: 'VXLAN Always: 9 routes as planned; sends VXLAN, accepts IPIP, VXLAN' });
    expect(judgeNode(seen('VXLAN Always', ['IPIP', 'VXLAN'], ['IPIP']), want)).toEqual({ converged: true, detail: 'VXLAN Always: 9 routes as planned; sends IPIP, accepts IPIP, VXLAN (no peer accepts VXLAN yet, so it sends the old way)' });
    const late = { ...seen('VXLAN Always', ['IPIP'], ['IPIP']), published: { accepts: ['IPIP' as const], sends: ['IPIP' as const], modes: { [pool]: 'IPIP Always' as const } } };
    expect(judgeNode(late, want).detail).toBe('it publishes IPIP Always for default-ipv4-ippool, not VXLAN Always yet');
  });

  it('takes a node not yet switched on the old mode only once it accepts what the canaries send', () => {
    const want = { pool, mode: 'IPIP Always', target: 'VXLAN Always', final: false } as const;
    expect(judgeNode(seen('IPIP Always', ['IPIP'], ['IPIP']), want)).toEqual({ converged: false, detail: 'it accepts IPIP, not VXLAN yet (which the switched nodes send)' });
    expect(judgeNode(seen('IPIP Always', ['IPIP', 'VXLAN'], ['IPIP']), want)).toEqual({ converged: true, detail: 'IPIP Always: 9 routes as planned; sends IPIP, accepts IPIP, VXLAN' });
    expect(judgeNode(seen('IPIP Always', ['IPIP'], ['IPIP']), { ...want, target: 'Never' }).detail).toBe('IPIP Always: 9 routes as planned; sends IPIP, accepts IPIP');
  });

  it('wants the steady state after the last stage: nothing of the old kind kept', () => {
    const want = { pool, mode: 'VXLAN Always', target: 'VXLAN Always', final: true } as const;
    expect(judgeNode(seen('VXLAN Always', ['IPIP', 'VXLAN'], ['VXLAN']), want).detail).toBe('it still accepts IPIP, VXLAN and sends VXLAN (the steady state of VXLAN Always not reached)');
    expect(judgeNode(seen('VXLAN Always', ['VXLAN'], ['VXLAN']), want).converged).toBe(true);
    expect(judgeNode(seen('Never', [], []), { ...want, mode: 'Never', target: 'Never' }).converged).toBe(true);
  });

  it("says why: the agent's mode, its routes, an unreadable node; a node that publishes nothing is judged by its agent and routes", () => {
    const want = { pool, mode: 'VXLAN Always', target: 'VXLAN Always', final: true } as const;
    expect(judgeNode({ node: 'w', unreadable: 'the agent did not answer status within 10 s' }, want).detail).toBe('the agent did not answer status within 10 s');
    expect(judgeNode({ node: 'w', mode: 'IPIP Always', routes }, want).detail).toBe('the agent applies IPIP Always, not VXLAN Always yet');
    expect(judgeNode({ node: 'w', routes }, want).detail).toBe('the agent has no pool default-ipv4-ippool');
    expect(judgeNode({ node: 'w', mode: 'VXLAN Always', routes: { converged: false, detail: '192.168.3.0/26: kernel tunl0 10.240.2.13, planned vxlan.calico 192.168.3.0' } }, want).detail).toMatch(/^192\.168\.3\.0\/26: kernel tunl0/);
    expect(judgeNode({ node: 'w', mode: 'VXLAN Always', routes }, want)).toEqual({ converged: true, detail: 'VXLAN Always: 9 routes as planned' });
  });
});
