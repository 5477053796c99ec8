// A lab node: a network namespace named after it (ens5 on its subnet's bridge), and sshd running
// there in a mount namespace of its own, in which /etc, /opt and /var/lib are overlays over the
// machine's (writes land in the node's folder) and /run is the node's own folder, so that
// /etc/gingham, /opt/gingham, /var/lib/gingham and /run/gingham are private per node as on
// separate hosts, while the machine's programs (sshd, node, ip, nft) are there to run. Everything
// a session starts (the agent above all) lives in both namespaces.
import { mkdirSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { plugNode, sysctls } from '../fabric/fabric.ts';
import { programPath } from '../host/preflight.ts';
import type { Topology, TopologyNode } from '../topology/topology.ts';
import { namespaces, processAlive, removeNamespace, run } from '../sh.ts';
import { ensureHostKey } from './ssh-keys.ts';
import { sshdConfig, waitForSshd } from './sshd.ts';

/** The node's folders inside the lab's state folder. */
export function nodeDirs(stateDir: string, node: string) {
  const base = path.join(stateDir, 'nodes', node);
  return {
    base,
    ssh: path.join(base, 'ssh'),
    root: path.join(base, 'root'),
    run: path.join(base, 'root', 'run'),
    log: path.join(base, 'sshd.log'),
  };
}

/** The node's /run as the machine sees it: where its agent's control socket is. */
export const nodeRunDir = (stateDir: string, node: string) => nodeDirs(stateDir, node).run;

const overlays = ['etc', 'opt', 'var/lib'] as const;

function mountScript(root: string, runDir: string, configFile: string, sshd: string): string {
  const lines = ['set -e'];
  for (const dir of overlays) {
    const name = dir.replace('/', '-');
    lines.push(`mount -t overlay lab-${name} -o lowerdir=/${dir},upperdir=${root}/${name}.upper,workdir=${root}/${name}.work /${dir}`);
  }
  // The machine's /run/netns stays visible (pod namespaces are made there, as a runtime makes them
  // in the node's /run/netns); the propagation is slave, so namespaces added later appear too.
  lines.push(`mkdir -p ${runDir}/netns ${runDir}/sshd ${runDir}/gingham`);
  lines.push(`if [ -d /run/netns ]; then mount --rbind /run/netns ${runDir}/netns; fi`);
  lines.push(`mount --rbind ${runDir} /run`);
  lines.push('mkdir -p /etc/gingham /opt/gingham /var/lib/gingham');
  // sshd re-executes itself for each connection, and so must be started by its absolute path.
  lines.push(`exec ${sshd} -D -e -f ${configFile}`);
  return lines.join('\n');
}

export interface StartedNode {
  name: string;
  netns: string;
  sshdPid: number;
  hostKey: string;
}

/** Makes the node (fresh: its private folders are emptied) and starts its sshd; `existingPid` is reused when still alive. */
export async function nodeUp(stateDir: string, topology: Topology, node: TopologyNode, authorizedKeys: string, existingPid?: number): Promise<StartedNode> {
  const dirs = nodeDirs(stateDir, node.name);
  const sshd = programPath('nodes', 'sshd');
  const hostKey = await ensureHostKey(dirs.base, node.name);
  if (existingPid && processAlive(existingPid) && (await namespaces()).has(node.name)) {
    return { name: node.name, netns: node.name, sshdPid: existingPid, hostKey };
  }
  await removeNamespace(node.name);
  // A new node starts empty: nothing of an earlier lab's install survives in its /etc, /opt, /var/lib, /run.
  rmSync(dirs.root, { recursive: true, force: true });
  for (const dir of overlays) {
    const name = dir.replace('/', '-');
    mkdirSync(path.join(dirs.root, `${name}.upper`), { recursive: true });
    mkdirSync(path.join(dirs.root, `${name}.work`), { recursive: true });
  }
  mkdirSync(dirs.run, { recursive: true, mode: 0o755 });
  const config = path.join(dirs.ssh, 'sshd_config');
  writeFileSync(config, sshdConfig({ listenAddress: node.address, hostKey, pidFile: '/run/sshd.pid', authorizedKeys, sftp: '/usr/lib/openssh/sftp-server' }));

  await run('ip', ['netns', 'add', node.name]);
  await sysctls(node.name, true);
  await plugNode(topology, node, node.name);

  const log = openSync(dirs.log, 'a');
  const child = spawn('ip', ['netns', 'exec', node.name, 'unshare', '--mount', '--propagation', 'slave', '/bin/sh', '-c', mountScript(dirs.root, dirs.run, config, sshd)], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start sshd on ${node.name}`);
  // `ip netns exec`, unshare and sh each exec the next: this pid is sshd's.
  await waitForSshd(node.address, 22, { timeoutMs: 60_000, pid: child.pid, log: () => `see ${dirs.log}` });
  return { name: node.name, netns: node.name, sshdPid: child.pid, hostKey };
}

export async function nodeDown(name: string): Promise<void> {
  // Every process of the node (sshd, sessions, the agent and its helpers) lives in its namespace.
  await removeNamespace(name);
}
