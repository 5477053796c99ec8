// The CNI plugin run as a container runtime runs it (a process per call, CNI_* env, config on
// stdin), in nodes made of network namespaces, against a real kube-apiserver: the veth and
// routes as Calico makes them, a pod on one node reaching a pod on another, an idempotent ADD
// and DEL, CHECK, VERSION and the spec's error codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleIds } from '../../shared/model/ipam.ts';
import { caliInterfaceName } from '../../shared/net/index.ts';
import { KubeClient } from '../datastore/kube-client.ts';
import { ipPool, nodeObject, startTestCluster, type TestCluster } from '../../lab/testing/test-cluster.ts';
import { NodeNetwork } from '../../lab/testing/node-network.ts';
import { handleObjectName } from '../ipam/ipam.ts';
import { runPlugin } from './testing/runtime.ts';

let network: NodeNetwork;
let cluster: TestCluster;
let client: KubeClient;
const config = (node: string) => ({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'gingham', kubeconfig: cluster.plane.kubeconfig, nodename: node });

beforeAll(async () => {
  network = await NodeNetwork.create(1, ['node-a', 'node-b']);
  cluster = await startTestCluster({ address: network.hostIp });
  client = KubeClient.fromKubeconfigFile(cluster.plane.kubeconfig);
  await cluster.apply([
    ...network.nodes.map((n) => nodeObject(n.name, n.address)),
    ipPool('default-ipv4-ippool', { cidr: '192.168.0.0/16', ipipMode: 'CrossSubnet' }),
  ]);
}, 600_000);

afterAll(async () => {
  await cluster?.down();
  await network?.destroy();
});

interface AddResult {
  interfaces: Array<{ name: string; mac: string; sandbox?: string }>;
  ips: Array<{ address: string; gateway: string; interface: number }>;
}

describe('the CNI plugin', () => {
  const [a, b] = [
    { pod: 'pod-a', containerId: 'aaaa0001', node: 0 },
    { pod: 'pod-b', containerId: 'bbbb0002', node: 1 },
  ];
  const netnsOf: Record<string, string> = {};
  const ipOf: Record<string, string> = {};
  const addResults: Record<string, unknown> = {};

  it('plumbs pods as Calico does and a pod reaches a pod on another node', async () => {
    for (const p of [a!, b!]) {
      netnsOf[p.pod] = await network.addPod(p.pod);
      const node = network.nodes[p.node]!;
      const result = await runPlugin(node.netns, { command: 'ADD', containerId: p.containerId, netns: `/var/run/netns/${netnsOf[p.pod]}`, pod: p.pod }, config(node.name));
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const add = result.json as unknown as AddResult;
      addResults[p.pod] = result.json;
      const cali = caliInterfaceName('default', p.pod);
      expect(add.interfaces[0]).toEqual({ name: cali, mac: 'ee:ee:ee:ee:ee:ee' });
      expect(add.interfaces[1]).toMatchObject({ name: 'eth0', sandbox: `/var/run/netns/${netnsOf[p.pod]}` });
      expect(add.ips[0]).toMatchObject({ gateway: '169.254.1.1', interface: 1 });
      ipOf[p.pod] = add.ips[0]!.address.split('/')[0]!;

      // Host side: proxy_arp on the cali interface, the /32 via it.
      expect((await network.exec(node.netns, 'cat', [`/proc/sys/net/ipv4/conf/${cali}/proxy_arp`])).trim()).toBe('1');
      const route = JSON.parse(await network.exec(node.netns, 'ip', ['-N', '-json', 'route', 'show', `${ipOf[p.pod]}/32`])) as Array<{ dev: string; scope: string; protocol: string }>;
      // Gingham's protocol: the agent owns the route the plugin made (one owner, no warning).
      expect(route).toMatchObject([{ dev: cali, scope: '253', protocol: '71' }]);
      // Pod side: default via 169.254.1.1, the IP-in-IP MTU (the pool has CrossSubnet IPIP).
      const routes = await network.exec(netnsOf[p.pod]!, 'ip', ['route']);
      expect(routes).toContain('default via 169.254.1.1 dev eth0');
      expect(routes).toContain('169.254.1.1 dev eth0 scope link');
      const [link] = JSON.parse(await network.exec(netnsOf[p.pod]!, 'ip', ['-json', 'link', 'show', 'eth0'])) as Array<{ mtu: number }>;
      expect(link!.mtu).toBe(1480);
    }
    // Each node got its own block.
    expect(ipOf['pod-a']).toBe('192.168.0.0');
    expect(ipOf['pod-b']).toBe('192.168.0.64');
    // Between the nodes, direct routes to each other's block (what the agent's dataplane programs).
    await network.exec(network.nodes[0]!.netns, 'ip', ['route', 'add', '192.168.0.64/26', 'via', network.nodes[1]!.ip]);
    await network.exec(network.nodes[1]!.netns, 'ip', ['route', 'add', '192.168.0.0/26', 'via', network.nodes[0]!.ip]);
    const ping = await network.exec(netnsOf['pod-a']!, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', ipOf['pod-b']!]);
    expect(ping).toMatch(/2 received/);
  }, 120_000);

  it('returns the same result for a repeated ADD, and CHECK agrees', async () => {
    const node = network.nodes[0]!;
    const call = { command: 'ADD' as const, containerId: a!.containerId, netns: `/var/run/netns/${netnsOf['pod-a']}`, pod: a!.pod };
    const again = await runPlugin(node.netns, call, config(node.name));
    expect(again.code, again.stdout).toBe(0);
    expect(again.json).toEqual(addResults['pod-a']);
    const check = await runPlugin(node.netns, { ...call, command: 'CHECK' }, { ...config(node.name), prevResult: again.json });
    expect(check.code, check.stdout).toBe(0);
    // CHECK notices a pod whose default route is gone.
    await network.exec(netnsOf['pod-a']!, 'ip', ['route', 'del', 'default']);
    const broken = await runPlugin(node.netns, { ...call, command: 'CHECK' }, { ...config(node.name), prevResult: again.json });
    expect(broken.code).toBe(1);
    expect(broken.json).toMatchObject({ code: 101, msg: expect.stringContaining('default route') });
  }, 120_000);

  it('frees the address and the interface on DEL, and a second DEL succeeds too', async () => {
    const node = network.nodes[0]!;
    const call = { command: 'DEL' as const, containerId: a!.containerId, netns: `/var/run/netns/${netnsOf['pod-a']}`, pod: a!.pod };
    for (let i = 0; i < 2; i++) {
      const del = await runPlugin(node.netns, call, config(node.name));
      expect(del.code, del.stdout).toBe(0);
      expect(del.stdout.trim()).toBe('');
    }
    // DEL without the netns (the runtime already removed it) also succeeds.
    expect((await runPlugin(node.netns, { ...call, netns: undefined }, config(node.name))).code).toBe(0);
    expect(await network.exec(node.netns, 'ip', ['link', 'show', caliInterfaceName('default', 'pod-a')], true)).toBe('');
    expect(await client.get({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMHandle', metadata: { name: handleObjectName(handleIds.pod(a!.containerId)) } })).toBeUndefined();
  }, 120_000);

  it('answers VERSION and reports mistakes with the spec’s error codes', async () => {
    const node = network.nodes[0]!.netns;
    const version = await runPlugin(node, { command: 'VERSION' }, { cniVersion: '1.0.0' });
    expect(version.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
    const noId = await runPlugin(node, { command: 'ADD', netns: '/var/run/netns/x', pod: 'p' }, config('node-a'));
    expect(noId.code).toBe(1);
    expect(noId.json).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_CONTAINERID') });
    const badJson = await runPlugin(node, { command: 'ADD', containerId: 'x1', netns: '/var/run/netns/x', pod: 'p' }, '{not json');
    expect(badJson.json).toMatchObject({ code: 6 });
    const oldVersion = await runPlugin(node, { command: 'ADD', containerId: 'x1', netns: '/var/run/netns/x', pod: 'p' }, { ...config('node-a'), cniVersion: '0.2.0' });
    expect(oldVersion.json).toMatchObject({ code: 1 });
    const noNode = await runPlugin(node, { command: 'ADD', containerId: 'x1', netns: `/var/run/netns/${netnsOf['pod-b']}`, pod: 'p' }, config('nobody'));
    expect(noNode.json).toMatchObject({ code: 7, msg: expect.stringContaining('nodename') });
  }, 120_000);
});
