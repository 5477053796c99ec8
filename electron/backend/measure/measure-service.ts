// Measuring a path from the console: the agents do the measuring, from the pods' own namespaces
// (`gingham-agent measure serve` on the destination's node, `measure run` on the source's, over
// SSH); the console only starts them, reads the JSON and keeps the run. The same two nodes host to
// host are measured right after, as the reference: what the pod network's path costs.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import type { RequestHandlers } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { type MeasureRun } from '../../../shared/api/measure-contract.ts';
import { measurementSchema, type Measurement } from '../../../shared/api/measurement.ts';
import { podLabel, resolveEndpoint } from '../../../shared/doctor/endpoints.ts';
import type { ClusterFacts, PoolFacts } from '../../../shared/doctor/evidence.ts';
import { containsAddress, parseCidr, parseIPv4 } from '../../../shared/net/index.ts';
import { readClusterFacts } from '../doctor/collect-evidence.ts';
import { runScript } from '../installer/remote.ts';
import { MeasureHistory } from './measure-history.ts';

/** The console's install first, then a lab's or a packaged install, then PATH (as the connectivity matrix runs it). */
const agentExecutable = 'for a in /opt/gingham/current/gingham-agent /opt/gingham/bin/gingham-agent /usr/local/bin/gingham-agent; do [ -x "$a" ] && exec "$a" "$@"; done; exec gingham-agent "$@"';

/** The mode as the IP pools page names it. */
export function modeLabel(pool: PoolFacts | undefined): string {
  if (!pool) return 'no pool';
  if (pool.vxlanMode !== 'Never') return `VXLAN ${pool.vxlanMode}`;
  if (pool.ipipMode !== 'Never') return `IPIP ${pool.ipipMode}`;
  return 'Never';
}

export class MeasureService {
  constructor(
    private readonly kubeConfigFor: (context: string) => KubeConfig,
    private readonly clientFor: (context: string, nodeName: string) => Promise<Client>,
    /** Where runs are kept, a file per cluster context. */
    historyDir: string,
  ) {
    this.kept = new MeasureHistory(historyDir);
  }

  private readonly kept: MeasureHistory;

  /** One measurement: the server on `serverNode` (in `serverPod`'s namespace, or the node's), the client on `clientNode`. */
  private async measureOnce(
    context: string,
    client: { node: string; pod?: string },
    server: { node: string; pod?: string; address: string },
    seconds: number,
  ): Promise<Measurement> {
    const [serverSsh, clientSsh] = await Promise.all([this.clientFor(context, server.node), this.clientFor(context, client.node)]);
    const where = (pod?: string) => (pod ? ['--pod', pod] : []);
    // The server stops on its own 3 s after the client's last test (or after 120 s regardless).
    const serving = runScript(serverSsh, `measuring server on ${server.node}`, agentExecutable, ['measure', 'serve', ...where(server.pod), '--lifetime', '120', '--idle', '3'], 130_000);
    const measured = await runScript(clientSsh, `measuring from ${client.node}`, agentExecutable, ['measure', 'run', ...where(client.pod), '--to', server.address, '--seconds', String(seconds), '--streams', '1,4', '--json'], (seconds * 4 + 60) * 1000);
    const served = await serving;
    if (measured.code !== 0) {
      const why = measured.stderr.trim() || served.stderr.trim() || `exit ${measured.code}`;
      throw new ConsoleError('internal', `${client.node}: ${why.replace(/^gingham-agent: /, '')}`);
    }
    return measurementSchema.parse(JSON.parse(measured.stdout));
  }

  async run(context: string, sourceText: string, destinationText: string, seconds = 3): Promise<MeasureRun> {
    const cluster: ClusterFacts = await readClusterFacts(this.kubeConfigFor(context));
    const source = resolveEndpoint(cluster, sourceText, 'source');
    const destination = resolveEndpoint(cluster, destinationText, 'destination');
    if (!source.pod || !destination.pod) throw new ConsoleError('invalid-field', 'Measure between two pods: the agents measure from the pods\u2019 own namespaces.');
    if (source.pod.node === destination.pod.node) throw new ConsoleError('invalid-field', `${podLabel(source.pod)} and ${podLabel(destination.pod)} are both on ${source.pod.node}: pick pods on two nodes, so that the path crosses the network.`);
    const nodeAddress = (name: string) => {
      const node = cluster.nodes.find((n) => n.name === name);
      const address = node?.ipv4Address?.split('/')[0] ?? node?.internalIp;
      if (!address) throw new ConsoleError('not-found', `${name} has no address in the Kubernetes API (no InternalIP, no projectcalico.org/IPv4Address)`);
      return address;
    };
    const pool = cluster.pools.find((p) => !p.disabled && containsAddress(parseCidr(p.cidr), parseIPv4(source.ip)));
    const at = new Date().toISOString();
    const pods = await this.measureOnce(context, { node: source.pod.node, pod: source.ip }, { node: destination.pod.node, pod: destination.ip, address: destination.ip }, seconds);
    const hosts = await this.measureOnce(context, { node: source.pod.node }, { node: destination.pod.node, address: nodeAddress(destination.pod.node) }, seconds);
    const run: MeasureRun = {
      at,
      mode: modeLabel(pool),
      source: { pod: podLabel(source.pod), node: source.pod.node },
      destination: { pod: podLabel(destination.pod), node: destination.pod.node },
      pods,
      hosts,
    };
    this.kept.append(context, run);
    return run;
  }

  handlers(): Pick<RequestHandlers, 'measure.run' | 'measure.history'> {
    return {
      'measure.run': async ({ context, source, destination, seconds }) => this.run(context, source, destination, seconds),
      'measure.history': async ({ context }) => ({ runs: this.kept.read(context) }),
    };
  }
}
