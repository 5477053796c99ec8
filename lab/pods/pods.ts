// The lab's pods: for each, a network namespace made in the node's /run/netns (as a container
// runtime makes one), the CNI plugin called on the node exactly as a runtime calls it (the plugin
// found by the network configuration's `type` in CNI_PATH, CNI_* in its environment, the
// configuration on stdin, inside the node's network and mount namespaces), and an HTTP server on
// port 80 in the pod (Python's http.server: the seed curls its pods), then the Pod's status.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sysctls } from '../fabric/fabric.ts';
import { programPath } from '../host/preflight.ts';
import { agentPaths } from '../nodes/agent-install.ts';
import { namespaces, processAlive, removeNamespace, run, runResult } from '../sh.ts';

export interface StartedPod {
  name: string;
  node: string;
  netns: string;
  ip: string;
  containerId: string;
  serverPid: number;
}

export const podDir = (stateDir: string, pod: string) => path.join(stateDir, 'pods', pod);

/**
 * The network configuration a runtime would read on the node (the lowest-sorting conflist in
 * net.d: Gingham's, or Calico's on a calico-node node), with the conflist's name and version given to the plugin.
 */
function pluginConfig(nodeSshdPid: number): { config: Record<string, unknown>; type: string } {
  const netd = `/proc/${nodeSshdPid}/root${path.dirname(agentPaths.cniConfig)}`;
  const first = readdirSync(netd).filter((name) => name.endsWith('.conflist')).sort()[0];
  if (!first) throw new Error(`the node has no CNI network configuration in ${path.dirname(agentPaths.cniConfig)}: install the agent (or calico-node) there first`);
  const conflist = JSON.parse(readFileSync(path.join(netd, first), 'utf8')) as {
    cniVersion: string;
    name: string;
    plugins: Array<Record<string, unknown> & { type: string }>;
  };
  const plugin = conflist.plugins[0]!;
  return { config: { cniVersion: conflist.cniVersion, name: conflist.name, ...plugin }, type: plugin.type };
}

/** One CNI call on the node, as a runtime makes it. */
export async function cniCall(nodeSshdPid: number, command: 'ADD' | 'DEL' | 'CHECK', pod: { name: string; netns: string; containerId: string }) {
  const { config, type } = pluginConfig(nodeSshdPid);
  const cniPath = path.dirname(agentPaths.cniPlugin);
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: `/var/run/netns/${pod.netns}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: cniPath,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
  };
  // Under load a call takes seconds (starting Node and tsx); a runtime waits minutes too.
  return runResult('nsenter', ['-t', String(nodeSshdPid), '-m', '-n', '--', path.join(cniPath, type)], { input: JSON.stringify(config), env, timeoutMs: 300_000 });
}

function startServer(stateDir: string, pod: string, node: string): number {
  const dir = podDir(stateDir, pod);
  const www = path.join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(path.join(www, 'index.html'), `${pod} on ${node}\n`);
  const log = openSync(path.join(dir, 'http.log'), 'a');
  const child = spawn('ip', ['netns', 'exec', pod, programPath('pods', 'python3'), '-m', 'http.server', '80', '--bind', '0.0.0.0', '--directory', www], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${pod}'s HTTP server`);
  return child.pid;
}

/** Makes the pod's namespace, plumbs it with CNI ADD on its node and starts its server. */
export async function podUp(stateDir: string, pod: { name: string; node: string }, nodeSshdPid: number, existing?: StartedPod): Promise<StartedPod> {
  if (existing && processAlive(existing.serverPid) && (await namespaces()).has(pod.name)) return existing;
  await removeNamespace(pod.name);
  await run('ip', ['netns', 'add', pod.name]);
  await sysctls(pod.name, false);
  await run('ip', ['-n', pod.name, 'link', 'set', 'lo', 'up']);
  const containerId = `lab${pod.name.replace(/[^a-z0-9]/g, '')}`.padEnd(16, '0');
  const add = await cniCall(nodeSshdPid, 'ADD', { name: pod.name, netns: pod.name, containerId });
  if (add.code !== 0) throw new Error(`CNI ADD for ${pod.name} on ${pod.node} failed (status ${add.code}): ${add.stdout.trim()} ${add.stderr.trim()}`);
  const result = JSON.parse(add.stdout) as { ips?: Array<{ address: string }> };
  const ip = result.ips?.[0]?.address.split('/')[0];
  if (!ip) throw new Error(`CNI ADD for ${pod.name} returned no address: ${add.stdout}`);
  const serverPid = startServer(stateDir, pod.name, pod.node);
  return { name: pod.name, node: pod.node, netns: pod.name, ip, containerId, serverPid };
}

export async function podDown(pod: string): Promise<void> {
  await removeNamespace(pod);
}
