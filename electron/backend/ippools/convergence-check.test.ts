import { describe, expect, it } from 'vitest';
import type { RouteRow } from '../../../shared/api/cluster-ops-contract.ts';
import { checkConvergence } from './convergence-check.ts';

const row = (destination: string, genmask: string, iface: string, gateway: string, ginghams: boolean, flags = 'UG'): RouteRow => ({
  destination,
  gateway,
  genmask,
  flags,
  metric: 0,
  iface,
  protocol: ginghams ? 80 : 3,
  owner: null,
  ginghams,
});

const planned = new Map([
  ['192.168.1.0/26', 'tunl0 10.240.1.12'],
  ['192.168.0.0/26', 'blackhole'],
  ['192.168.0.1/32', 'cali123 0.0.0.0'],
]);

describe('checkConvergence', () => {
  const ours = [row('192.168.1.0', '255.255.255.192', 'tunl0', '10.240.1.12', true), row('192.168.0.0', '255.255.255.192', '*', '0.0.0.0', true, 'U')];

  it('counts a planned local pod route the CNI plugin made (not the agent)', () => {
    expect(checkConvergence(planned, [...ours, row('192.168.0.1', '255.255.255.255', 'cali123', '0.0.0.0', false, 'UH')])).toEqual({ converged: true, detail: '3 routes as planned' });
  });

  it('is not converged while a planned route is missing or shaped otherwise, and says which', () => {
    expect(checkConvergence(planned, ours)).toEqual({ converged: false, detail: '192.168.0.1/32: kernel missing, planned cali123 0.0.0.0' });
    const direct = [row('192.168.1.0', '255.255.255.192', 'ens5', '10.240.1.12', true), ours[1]!, row('192.168.0.1', '255.255.255.255', 'cali123', '0.0.0.0', false)];
    expect(checkConvergence(planned, direct).detail).toBe('192.168.1.0/26: kernel ens5 10.240.1.12, planned tunl0 10.240.1.12');
  });

  it("is not converged while a route the agent made is left over, but ignores others' routes", () => {
    const local = row('192.168.0.1', '255.255.255.255', 'cali123', '0.0.0.0', false);
    expect(checkConvergence(planned, [...ours, local, row('192.168.2.0', '255.255.255.192', 'tunl0', '10.240.2.13', true)]).detail).toBe('192.168.2.0/26 is still in the kernel');
    expect(checkConvergence(planned, [...ours, local, row('0.0.0.0', '0.0.0.0', 'ens5', '10.240.1.1', false)]).converged).toBe(true);
  });
});
