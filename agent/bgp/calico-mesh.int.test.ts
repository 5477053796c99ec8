// A Calico cluster's BGP mesh: one node runs BIRD with the configuration calico-node's confd
// renders (modelled on Calico v3.32's mesh/ipip-always templates, written for this test), two
// nodes run Gingham with Calico's defaults (AS 64512, passive towards the lexically greater
// address). Every pair meshes, blocks flow, and each side programs the others' blocks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdDaemon, GinghamDaemon, kernelRoutes } from './testing/daemons.ts';
import { type LabNode, NetnsLab, waitFor } from '../../lab/testing/netns-lab.ts';

let lab: NetnsLab;
let calicoNode: LabNode, g1Node: LabNode, g2Node: LabNode;
let bird: BirdDaemon, g1: GinghamDaemon, g2: GinghamDaemon;

const BLOCKS: Record<string, string> = { calico: '192.168.221.64/26', g1: '192.168.30.0/26', g2: '192.168.40.0/26' };

/**
 * What confd writes for a node in an ipip-always mesh, reduced to what this lab has, in BIRD 2
 * syntax (calico-node ships a BIRD 1.6 fork, whose protocols have no channel blocks).
 */
function calicoBirdConfig(self: LabNode, peers: LabNode[]): string {
  const mesh = peers.map((p) => `
protocol bgp Mesh_${p.address.replaceAll('.', '_')} from bgp_template {
  neighbor ${p.address} as 64512;
  source address ${self.address};
  ipv4 {
    import filter {
      if (defined(bgp_local_pref)&&(bgp_local_pref > 2147482623)) then
        preference = 200;
      accept;
    };
    export filter {
      if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {
        krt_metric = 2147483647 - bgp_local_pref;
      } else {
        if (!defined(krt_metric)) then { krt_metric = 1024; }
        bgp_local_pref = 2147483647 - krt_metric;
      }
      calico_export_to_bgp_peers(true);
      reject;
    };
  };${p.address > self.address ? '\n  passive on;' : ''}
}`).join('\n');
  return `
function apply_communities () {}

protocol static {
  ipv4;
  # IP blocks for this host.
  route ${BLOCKS.calico} blackhole;
}

function calico_aggr () {
  if ( net = ${BLOCKS.calico} ) then { accept; }
  if ( net ~ ${BLOCKS.calico} ) then { reject; }
}

function calico_export_to_bgp_peers(bool internal_peer) {
  apply_communities();
  calico_aggr();
  if (net ~ 192.168.0.0/16) then { accept; }
}

filter calico_kernel_programming {
  if (defined(source) && (source = RTS_BGP) && !defined(krt_metric)) then {
    krt_metric = 1024;
    if (defined(bgp_local_pref)) then { krt_metric = 2147483647 - bgp_local_pref; }
  }
  # calico-node adds krt_tunnel = "tunl0" for IP-in-IP pools; this lab has no tunl0, so routes go
  # via the peer directly (the BGP behaviour under test is the same).
  accept;
}

router id ${self.address};
log stderr { warning, error, fatal };

protocol kernel {
  learn;
  persist;
  scan time 2;
  ipv4 { import all; export filter calico_kernel_programming; };
  graceful restart;
  merge paths on;
}

protocol device { scan time 2; }

protocol direct {
  ipv4;
  interface -"cali*", -"kube-ipvs*", "*";
}

template bgp bgp_template {
  description "Connection to BGP peer";
  local as 64512;
  ipv4 { gateway recursive; add paths on; import all; export all; };
  graceful restart;
  connect delay time 2;
  connect retry time 5;
  error wait time 5,30;
}
${mesh}
`;
}

function ginghamConfig(self: LabNode, others: LabNode[], block: string) {
  // Exactly Calico's defaults: AS 64512 and passivity by the mesh rule (no asn, no passive set).
  return { routerId: self.address, listen: self.address, connectRetryTime: 2, peers: others.map((o) => ({ address: o.address })), announce: [block], kernel: true };
}

beforeAll(async () => {
  lab = await NetnsLab.create(15);
  calicoNode = await lab.node('calico', 2);
  g1Node = await lab.node('g1', 3);
  g2Node = await lab.node('g2', 4);
  bird = new BirdDaemon(calicoNode);
  await bird.start(calicoBirdConfig(calicoNode, [g1Node, g2Node]));
  g1 = new GinghamDaemon(g1Node);
  g2 = new GinghamDaemon(g2Node);
  await Promise.all([g1.start(ginghamConfig(g1Node, [calicoNode, g2Node], BLOCKS.g1!)), g2.start(ginghamConfig(g2Node, [calicoNode, g1Node], BLOCKS.g2!))]);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('Calico mesh: BIRD as calico-node configures it, with Gingham nodes', () => {
  it('applies the passive rule as Calico does and every pair establishes', async () => {
    const s1 = await g1.status();
    expect(s1.asn).toBe(64512);
    expect(s1.peers.map((p) => [p.address, p.passive])).toEqual([[calicoNode.address, false], [g2Node.address, true]]);
    for (const g of [g1, g2]) {
      await waitFor('mesh up', async () => (await g.status()).peers.every((p) => p.state === 'up' && p.type === 'node-to-node mesh'), 40_000);
    }
    for (const p of [g1Node, g2Node]) {
      await waitFor('BIRD mesh protocol up', async () => /Established/.test(await bird.protocolState(`Mesh_${p.address.replaceAll('.', '_')}`)), 20_000);
    }
  });

  it('blocks flow between all nodes and each programs the others\' blocks into its kernel', async () => {
    await waitFor('BIRD learns both Gingham blocks', async () => {
      const p = await bird.prefixes();
      return p.includes(BLOCKS.g1!) && p.includes(BLOCKS.g2!);
    }, 30_000);
    expect(await bird.birdc(`show route ${BLOCKS.g2} all`)).toContain(`BGP.next_hop: ${g2Node.address}`);
    await waitFor('BIRD programs the kernel (proto bird)', async () => {
      const out = await calicoNode.exec('ip', ['route', 'show', 'proto', 'bird']);
      return out.includes(`${BLOCKS.g1} via ${g1Node.address}`) && out.includes(`${BLOCKS.g2} via ${g2Node.address}`);
    }, 20_000);
    for (const [g, node, others] of [[g1, g1Node, ['calico', 'g2']], [g2, g2Node, ['calico', 'g1']]] as const) {
      await waitFor('Gingham learns the other blocks', async () => {
        const p = await g.prefixes();
        return others.every((o) => p.includes(BLOCKS[o]!));
      }, 30_000);
      await waitFor('Gingham programs them', async () => {
        const k = (await kernelRoutes(node, 72)).map((r) => `${r.dst} via ${r.gateway}`);
        return k.includes(`${BLOCKS.calico} via ${calicoNode.address}`) && others.every((o) => k.some((x) => x.startsWith(BLOCKS[o]!)));
      }, 20_000);
    }
  });

  it('does not re-advertise mesh routes (iBGP): each block is learned from its own node only', async () => {
    const routes = await g1.routes();
    const g2Block = routes.find((r) => r.prefix === BLOCKS.g2)!;
    expect(g2Block.paths.map((p) => p.from)).toEqual([g2Node.address]);
    const calicoBlock = routes.find((r) => r.prefix === BLOCKS.calico)!;
    expect(calicoBlock.paths.map((p) => p.from)).toEqual([calicoNode.address]);
  });
});
