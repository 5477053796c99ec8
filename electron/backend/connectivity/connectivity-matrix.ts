// The pod-to-pod matrix: for each pod, its node's agent pings and GETs every other pod from the
// pod's own network namespace (`gingham-agent probe`, run over SSH). The console only collects.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import type { ConnectivityMatrix, MatrixCell } from '../../../shared/api/cluster-ops-contract.ts';
import { runScript } from '../installer/remote.ts';

/** The console's install first, then a lab's or a packaged install, then PATH. */
const agentExecutable = 'for a in /opt/gingham/current/gingham-agent /opt/gingham/bin/gingham-agent /usr/local/bin/gingham-agent; do [ -x "$a" ] && exec "$a" "$@"; done; exec gingham-agent "$@"';

interface ProbeOutput {
  results: { to: string; ping: MatrixCell['ping']; http: MatrixCell['http'] }[];
}

/** `gingham-agent probe` on the pod's node: one ping and one HTTP GET from the pod's namespace to each target. */
export async function probeFromPod(client: Client, from: { name: string; ip: string }, targets: string[], port: number): Promise<ProbeOutput['results']> {
  const args = ['probe', '--from', from.ip, '--to', targets.join(','), '--port', String(port)];
  const result = await runScript(client, `probing from ${from.name}`, agentExecutable, args, 60_000);
  if (result.code !== 0) throw new Error(result.stderr.trim() || `exit ${result.code}`);
  return (JSON.parse(result.stdout) as ProbeOutput).results;
}

/** The pods the matrix probes: on the pod network (not hostNetwork), with an address, not finished. */
export async function probedPods(admin: KubeConfig): Promise<ConnectivityMatrix['pods']> {
  const list = await admin.makeApiClient(CoreV1Api).listPodForAllNamespaces();
  return list.items
    .filter((p) => p.status?.podIP && p.spec?.nodeName && !p.spec.hostNetwork && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed')
    .map((p) => ({ name: p.metadata!.name!, namespace: p.metadata!.namespace ?? 'default', node: p.spec!.nodeName!, ip: p.status!.podIP! }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function connectivityMatrix(
  admin: KubeConfig,
  clientForNode: (nodeName: string) => Promise<Client>,
  port: number,
): Promise<ConnectivityMatrix> {
  const started = Date.now();
  const pods = await probedPods(admin);
  const cells: MatrixCell[] = [];
  const errors: ConnectivityMatrix['errors'] = [];
  await Promise.all(
    pods.map(async (from) => {
      const targets = pods.filter((p) => p !== from);
      if (targets.length === 0) return;
      try {
        const results = await probeFromPod(await clientForNode(from.node), from, targets.map((t) => t.ip), port);
        for (const target of targets) {
          const r = results.find((x) => x.to === target.ip);
          if (r) cells.push({ from: from.name, to: target.name, ping: r.ping, http: r.http });
        }
      } catch (error) {
        errors.push({ pod: from.name, message: `${from.node}: ${(error as Error).message}` });
      }
    }),
  );
  return { pods, cells, errors, ms: Date.now() - started };
}
