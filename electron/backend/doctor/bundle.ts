// The diagnostics bundle: one .tar.gz an admin attaches to a ticket. From the chosen nodes and one
// healthy node to compare with (the other node with the fewest scan findings): the bundle script's
// files (bundle-script.ts), the speaker's sessions and RIB (the agent's RPC, or BIRD's socket),
// the agent's status; from the API, Calico's resources and the nodes and pods; the doctor's scan
// (and a trace when asked). Every file goes through the redaction (shared/doctor/redact.ts) and
// the index page lists what was redacted where.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import { indexPage, type BundleRedaction, type BundleResult } from '../../../shared/doctor/bundle-contents.ts';
import { redact } from '../../../shared/doctor/redact.ts';
import type { ScanResult } from '../../../shared/doctor/scan-result.ts';
import type { TraceResult } from '../../../shared/doctor/trace-result.ts';
import { pluralOfCalicoKind, type CalicoKind } from '../../../shared/model/calico-kinds.ts';
import { AgentUnreachable, callAgent } from '../agent-rpc/agent-rpc.ts';
import { retryThrottled } from '../kube/retry-throttled.ts';
import { runScript } from '../installer/remote.ts';
import { askBird, birdSockets } from '../peers/bird-socket.ts';
import { parseSections } from './node-evidence-script.ts';
import { bundleScript } from './bundle-script.ts';
import { tarGz, type ArchiveFile } from './tar-archive.ts';

const calicoKinds: CalicoKind[] = ['IPPool', 'IPAMBlock', 'BlockAffinity', 'IPAMConfig', 'BGPConfiguration', 'BGPPeer', 'BGPFilter', 'FelixConfiguration', 'ClusterInformation', 'GlobalNetworkPolicy', 'HostEndpoint'];
const logLines = 2000;

export interface BundleOptions {
  context: string;
  kubeConfig: KubeConfig;
  nodes: string[];
  clientFor: (node: string) => Promise<Client>;
  scan: () => Promise<ScanResult>;
  trace?: () => Promise<TraceResult>;
  now?: () => Date;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 1)}\n`;
const withoutManagedFields = (item: unknown) => {
  const copy = structuredClone(item) as { metadata?: Record<string, unknown> };
  if (copy.metadata) delete copy.metadata['managedFields'];
  return copy;
};

async function clusterFiles(kubeConfig: KubeConfig, gaps: string[]): Promise<Record<string, string>> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const files: Record<string, string> = {};
  await Promise.all(
    calicoKinds.map(async (kind) => {
      try {
        const list = (await retryThrottled(() => custom.listClusterCustomObject({ group: 'crd.projectcalico.org', version: 'v1', plural: pluralOfCalicoKind(kind) }))) as { items: unknown[] };
        files[`cluster/${kind}.json`] = json(list.items.map(withoutManagedFields));
      } catch (error) {
        gaps.push(`${kind}: ${(error as Error).message.split('\n')[0]}`);
      }
    }),
  );
  try {
    const nodes = await retryThrottled(() => core.listNode());
    files['cluster/nodes.json'] = json(nodes.items.map((n) => ({ name: n.metadata?.name, labels: n.metadata?.labels, annotations: n.metadata?.annotations, addresses: n.status?.addresses, conditions: n.status?.conditions?.map((c) => ({ type: c.type, status: c.status, reason: c.reason })), podCIDR: n.spec?.podCIDR })));
    const pods = await retryThrottled(() => core.listPodForAllNamespaces());
    files['cluster/pods.json'] = json(pods.items.map((p) => ({ namespace: p.metadata?.namespace, name: p.metadata?.name, node: p.spec?.nodeName, ip: p.status?.podIP, phase: p.status?.phase, hostNetwork: p.spec?.hostNetwork ?? false })));
  } catch (error) {
    gaps.push(`nodes and pods: ${(error as Error).message.split('\n')[0]}`);
  }
  return files;
}

async function nodeFiles(client: Client, node: string, gaps: string[]): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const result = await runScript(client, `collecting ${node}'s diagnostics`, bundleScript, [String(logLines)], 60_000);
  for (const [name, text] of Object.entries(parseSections(result.stdout))) files[`nodes/${node}/${name}`] = `${text}\n`;
  try {
    const [status, bgp, rib] = await Promise.all([callAgent(client, 'status', undefined, 5000), callAgent(client, 'bgp.status', undefined, 5000), callAgent(client, 'bgp.routes', { limit: 50_000 }, 10_000)]);
    files[`nodes/${node}/agent-status.json`] = json(status);
    files[`nodes/${node}/bgp-status.json`] = json(bgp);
    files[`nodes/${node}/bgp-rib.json`] = json(rib);
    return files;
  } catch (error) {
    if (!(error instanceof AgentUnreachable)) gaps.push(`${node}: the agent answered, but: ${(error as Error).message}`);
  }
  for (const socket of birdSockets) {
    try {
      for (const [file, command] of [['bird-status.txt', 'show status'], ['bird-protocols.txt', 'show protocols all'], ['bird-routes.txt', 'show route all']] as const) {
        files[`nodes/${node}/${file}`] = (await askBird(client, socket, command, 10_000)).text;
      }
      return files;
    } catch {
      // the next socket
    }
  }
  gaps.push(`${node}: neither the Gingham agent nor BIRD answers: no BGP status or RIB`);
  return files;
}

function about(path: string): string {
  const base = path.split('/').at(-1)!;
  const known: Record<string, string> = {
    'index.html': 'this page',
    'scan.json': "the doctor's scan of every node (doctor scan --json)",
    'trace.json': "the doctor's trace (doctor trace --json)",
    'redactions.txt': 'what was redacted, by file',
    'ip-route.json': 'ip -json route show table all',
    'ip-link.json': 'ip -json -d link show',
    'ip-addr.json': 'ip -json addr show',
    'ip-neigh.json': 'ip -json neigh show',
    'ip-rule.json': 'ip -json rule show',
    'bridge-fdb.json': 'bridge -json fdb show',
    'nft-ruleset.txt': 'nft list ruleset',
    'iptables-save.txt': 'iptables-save',
    'sysctl.txt': 'forwarding and rp_filter sysctls',
    'df.txt': 'df -Pk',
    'uname.txt': 'uname -a, os-release',
    'agent.yaml': "the Gingham agent's configuration",
    'agent-kubeconfig.yaml': "the agent's kubeconfig (its token redacted)",
    'agent.log': `the last ${logLines} lines of the agent's log`,
    'agent-status.json': "the agent's status RPC",
    'bgp-status.json': "the agent's BGP sessions",
    'bgp-rib.json': "the agent's BGP RIB",
    'bird-status.txt': 'birdc show status',
    'bird-protocols.txt': 'birdc show protocols all',
    'bird-routes.txt': 'birdc show route all',
    'nodes.json': 'Nodes: labels, annotations, addresses, conditions',
    'pods.json': 'Pods: node, address, phase',
  };
  if (known[base]) return known[base]!;
  if (base.startsWith('ethtool-')) return `ethtool -k ${base.slice(8, -4)}`;
  if (base.startsWith('cni-')) return 'CNI configuration';
  if (base.startsWith('calico-')) return `calico-node's ${base.slice(7, -4)} log (tail)`;
  if (path.startsWith('cluster/')) return `Calico ${base.slice(0, -5)} resources`;
  return '';
}

export async function makeBundle(options: BundleOptions): Promise<BundleResult> {
  const createdAt = (options.now?.() ?? new Date()).toISOString();
  const gaps: string[] = [];
  const [scan, trace] = await Promise.all([options.scan().catch((error: Error) => (gaps.push(`scan: ${error.message}`), undefined)), options.trace?.().catch((error: Error) => (gaps.push(`trace: ${error.message}`), undefined))]);
  const unknown = options.nodes.filter((n) => scan && !scan.nodes.some((s) => s.name === n));
  if (unknown.length > 0) gaps.push(`not nodes of the cluster: ${unknown.join(', ')}`);
  // The healthy node: read by the scan, not chosen, fewest findings.
  const count = (node: string) => scan?.findings.filter((f) => f.node === node && f.severity !== 'info').length ?? 0;
  const healthyNode = scan?.nodes.filter((n) => n.read && !options.nodes.includes(n.name)).sort((a, b) => count(a.name) - count(b.name) || a.name.localeCompare(b.name))[0]?.name;
  const nodes = [...options.nodes, ...(healthyNode ? [healthyNode] : [])];
  const raw: Record<string, string> = { ...(scan ? { 'scan.json': json(scan) } : {}), ...(trace ? { 'trace.json': json(trace) } : {}) };
  const [cluster, ...perNode] = await Promise.all([
    clusterFiles(options.kubeConfig, gaps),
    ...nodes.map(async (node) => {
      try {
        return await nodeFiles(await options.clientFor(node), node, gaps);
      } catch (error) {
        gaps.push(`${node}: ${(error as Error).message}`);
        return {};
      }
    }),
  ]);
  Object.assign(raw, cluster, ...perNode);
  const redactions: BundleRedaction[] = [];
  const files: { path: string; text: string }[] = Object.entries(raw)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, text]) => {
      const cleaned = redact(text);
      for (const r of cleaned.redactions) redactions.push({ file: path, what: r.what, count: r.count });
      return { path, text: cleaned.text };
    });
  files.push({ path: 'redactions.txt', text: redactions.length === 0 ? 'nothing redacted\n' : redactions.map((r) => `${r.file}: ${r.count} x ${r.what}`).join('\n') + '\n' });
  const listed = files.map((f) => ({ path: f.path, bytes: Buffer.byteLength(f.text), about: about(f.path) }));
  const index = indexPage({ createdAt, context: options.context, nodes: options.nodes, ...(healthyNode ? { healthyNode } : {}), ...(scan ? { scan } : {}), files: listed, redactions, gaps });
  const stamp = createdAt.replace(/[:.]/g, '').slice(0, 15);
  const dir = `gingham-diagnostics-${options.context.replace(/[^\w.-]/g, '_')}-${stamp}`;
  const archive: ArchiveFile[] = [{ path: `${dir}/index.html`, content: index }, ...files.map((f) => ({ path: `${dir}/${f.path}`, content: f.text }))];
  return {
    fileName: `${dir}.tar.gz`,
    base64: tarGz(archive).toString('base64'),
    files: [{ path: 'index.html', bytes: Buffer.byteLength(index), about: 'the index page: the scan, every file, the redactions' }, ...listed],
    redactions,
    nodes,
    ...(healthyNode ? { healthyNode } : {}),
    gaps,
  };
}
