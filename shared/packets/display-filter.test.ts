import { describe, expect, it } from 'vitest';
import { compileDisplayFilter } from './display-filter.ts';
import type { PacketRecord } from './packet-record.ts';

const base = { t: 0, len: 100, caplen: 100, encapText: '', info: '' };
const ipip: PacketRecord = { ...base, n: 1, encap: 'IPIP', src: '192.168.1.65', dst: '192.168.3.1', outerSrc: '10.240.1.11', outerDst: '10.240.2.13', proto: 'HTTP', app: 'HTTP', ipProto: 6, sport: 43512, dport: 80, info: '43512 -> 80 [P.] len 41 GET / HTTP/1.1' };
const vxlan: PacketRecord = { ...base, n: 2, encap: 'VXLAN', vni: 4096, src: '192.168.1.65', dst: '192.168.3.1', outerSrc: '10.240.1.11', outerDst: '10.240.2.13', proto: 'ICMP', ipProto: 1 };
const direct: PacketRecord = { ...base, n: 3, encap: 'direct', src: '10.240.1.11', dst: '10.240.1.12', proto: 'BGP', app: 'BGP', ipProto: 6, sport: 179, dport: 40000 };
const arp: PacketRecord = { ...base, n: 4, encap: 'direct', src: '10.240.1.11', dst: '10.240.1.1', proto: 'ARP', mark: 'truncated' };
const rows = [ipip, vxlan, direct, arp];

function matching(filter: string): number[] {
  const f = compileDisplayFilter(filter);
  if (!f.ok) throw new Error(f.error);
  return rows.filter(f.test).map((r) => r.n);
}

describe('display filter', () => {
  it('selects by encapsulation, protocol and application', () => {
    expect(matching('')).toEqual([1, 2, 3, 4]);
    expect(matching('ipip')).toEqual([1]);
    expect(matching('vxlan.vni == 4096')).toEqual([2]);
    expect(matching('tcp')).toEqual([1, 3]);
    expect(matching('bgp or arp')).toEqual([3, 4]);
    expect(matching('!direct')).toEqual([1, 2]);
    expect(matching('truncated')).toEqual([4]);
  });

  it('compares addresses, CIDRs and ports, inner and outer', () => {
    expect(matching('ip.dst == 192.168.3.1 && icmp')).toEqual([2]);
    expect(matching('ip.addr == 192.168.0.0/16')).toEqual([1, 2]);
    expect(matching('outer.addr == 10.240.2.13')).toEqual([1, 2]);
    expect(matching('ip.addr != 10.240.1.11')).toEqual([1, 2]);
    expect(matching('tcp.port == 80 || tcp.port == 179')).toEqual([1, 3]);
    expect(matching('port >= 40000 and not http')).toEqual([3]);
    expect(matching('(ipip || vxlan) && info contains "get"')).toEqual([1]);
    expect(matching('proto == icmp')).toEqual([2]);
  });

  it('explains a mistake instead of matching nothing', () => {
    expect(compileDisplayFilter('ip.dst == banana')).toEqual({ ok: false, error: 'ip.dst compares with == or != to an address or CIDR, not "banana"' });
    expect(compileDisplayFilter('(tcp')).toEqual({ ok: false, error: 'a ( at column 1 is not closed' });
    expect(compileDisplayFilter('tcp.port ==')).toEqual({ ok: false, error: 'expected a value after "==" at column 10' });
    const unknown = compileDisplayFilter('nosuch');
    expect(unknown.ok || unknown.error.startsWith('unknown field "nosuch"; known: ipip, vxlan')).toBe(true);
  });
});
