// The topology file: the default parses to the seed's cluster; every kind of mistake is reported
// with the file, line and column of the value at fault.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultTopologyFile, parseTopology, resolved } from './topology.ts';

const seed = readFileSync(defaultTopologyFile, 'utf8');

function errorOf(text: string): string {
  try {
    parseTopology(text, 't.yaml');
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the topology was accepted');
}

describe('lab topology', () => {
  it('reads the seed’s cluster from the default file', () => {
    const topology = parseTopology(seed);
    expect(topology.nodes.map((n) => `${n.name} ${n.address} ${n.subnet}`)).toEqual([
      'master 10.240.1.10 subnet-1',
      'worker-1 10.240.1.11 subnet-1',
      'worker-2 10.240.1.12 subnet-1',
      'worker-3 10.240.2.13 subnet-2',
    ]);
    expect(resolved(topology).subnets.map((s) => s.gateway)).toEqual(['10.240.1.1', '10.240.2.1']);
    expect(resolved(topology).controlPlane.name).toBe('master');
    expect(topology.pods.map((p) => `${p.name}@${p.node}`)).toEqual(['pod-1@worker-1', 'pod-2@worker-2', 'pod-3@worker-3']);
    expect(topology.pool).toEqual({ cidr: '192.168.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true });
  });

  it('points at the line of a node address outside its subnet', () => {
    const text = seed.replace('address: 10.240.2.13', 'address: 10.240.3.13');
    const line = text.split('\n').findIndex((l) => l.includes('10.240.3.13')) + 1;
    expect(errorOf(text)).toContain(`t.yaml:${line}:`);
    expect(errorOf(text)).toContain('nodes[3].address: 10.240.3.13 is not inside subnet-2 (10.240.2.0/24)');
  });

  it('points at an unknown field, a bad value and a missing reference, all at once', () => {
    const text = [
      'subnets:',
      '  - name: a',
      '    cidr: 10.1.0.0/24',
      '    colour: blue',
      'nodes:',
      '  - name: m',
      '    subnet: a',
      '    address: 10.1.0.300',
      '    controlPlane: true',
      'pods:',
      '  - { name: p, node: m }',
    ].join('\n');
    const message = errorOf(text);
    expect(message).toMatch(/t\.yaml:4:5: subnets\[0\]\.colour: unknown field \(allowed: name, cidr, gateway\)/);
    expect(message).toMatch(/t\.yaml:8:14: nodes\[0\]\.address: must be an IPv4 address/);
    const missing = errorOf(text.replace('10.1.0.300', '10.1.0.10').replace('colour: blue', 'gateway: 10.1.0.1').replace('node: m }', 'node: x }'));
    expect(missing).toMatch(/t\.yaml:11:22: pods\[0\]\.node: there is no node x/);
  });

  it('refuses clashes: duplicate addresses and names, overlapping subnets, no control plane, the pool', () => {
    expect(errorOf(seed.replace('address: 10.240.1.12', 'address: 10.240.1.11'))).toContain('10.240.1.11 is already the address of worker-1');
    expect(errorOf(seed.replace('name: worker-2', 'name: worker-1'))).toContain('worker-1 is already the name of node worker-1');
    expect(errorOf(seed.replace('cidr: 10.240.2.0/24', 'cidr: 10.240.0.0/16'))).toContain('overlaps subnet subnet-1');
    expect(errorOf(seed.replace(', controlPlane: true', ''))).toContain('exactly one node must have controlPlane: true (found 0)');
    expect(errorOf(seed.replace('cidr: 10.240.2.0/24', 'cidr: 192.168.2.0/24').replace('10.240.2.13', '192.168.2.13'))).toContain('overlaps the pod pool 192.168.0.0/16');
    expect(errorOf(seed.replace('name: pod-1,', 'name: fabric,'))).toContain('already the name of the fabric namespace');
    expect(errorOf(seed.replace('ipipMode: Always', 'ipipMode: Sometimes'))).toMatch(/pool\.ipipMode: .*Always.*CrossSubnet.*Never/);
    expect(errorOf(seed.replace('name: worker-3', 'name: a-very-long-node-name'))).toMatch(/nodes\[3\]\.name: must be 1 to 13/);
  });

  it('reports YAML syntax errors at their line', () => {
    expect(errorOf('subnets:\n  - name: a\n   cidr: [\n')).toMatch(/^t\.yaml:\d+:\d+: /);
  });
});
