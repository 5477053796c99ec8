// The Kubernetes API server gone, three ways, each healed by bringing it back:
// - api-partition: the nodes' packets to :6443 dropped on the master (the agents' watches stall
//   with no FIN and no RST; the admin link still reaches the server, so changes can be made
//   meanwhile, which the agents must pick up afterwards);
// - api-refused: kube-apiserver killed (connections refused); heal starts it again on the same etcd;
// - api-restore: the cluster's etcd put back to a copy taken before (an etcd restored from a
//   backup): the server comes back with a resourceVersion history older than what the agents
//   last saw, so their watches cannot resume from where they were.
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { apiPort } from '../lab.ts';
import { kubectlOk } from '../cluster/objects.ts';
import { controlPlaneDown, controlPlaneUp, type ControlPlane } from '../controlplane/controlplane.ts';
import { run } from '../sh.ts';
import { resolved } from '../topology/topology.ts';
import type { FaultContext, FaultKind } from './fault.ts';

const table = 'lab-fault-api';

function plane(context: FaultContext) {
  const master = resolved(context.state.topology).controlPlane;
  const dir = path.join(context.stateDir, 'controlplane');
  return {
    master,
    dir,
    up: () => controlPlaneUp({ stateDir: dir, address: master.address, port: apiPort, netns: master.name, progress: () => {} }),
    recorded: () => JSON.parse(readFileSync(path.join(dir, 'controlplane.json'), 'utf8')) as ControlPlane,
  };
}

export const apiPartition: FaultKind = {
  kind: 'api-partition',
  summary: "drop the nodes' packets to the API server (watches stall; the admin link still reaches it)",
  needs: [],
  async inject(context) {
    const { master } = plane(context);
    const nodes = context.state.topology.nodes.map((n) => n.address).join(', ');
    // Both ways: with only the nodes' packets dropped, the server's would still reach the
    // agents, and their watches would go on receiving events through the "partition".
    const ruleset = [
      `table inet ${table} {`,
      '  chain input {',
      '    type filter hook input priority -10; policy accept;',
      `    ip saddr { ${nodes} } tcp dport ${apiPort} counter drop`,
      '  }',
      '  chain output {',
      '    type filter hook output priority -10; policy accept;',
      `    ip daddr { ${nodes} } tcp sport ${apiPort} counter drop`,
      '  }',
      '}',
      '',
    ].join('\n');
    await run('ip', ['netns', 'exec', master.name, 'nft', '-f', '-'], { input: ruleset });
    context.say(`dropping ${nodes} -> ${master.address}:${apiPort} on ${master.name}`);
    return {
      what: 'API server unreachable from the nodes (packets dropped)',
      async heal() {
        await run('ip', ['netns', 'exec', master.name, 'nft', 'delete', 'table', 'inet', table]);
        context.say('the nodes reach the API server again');
      },
    };
  },
};

export const apiRefused: FaultKind = {
  kind: 'api-refused',
  summary: 'kill kube-apiserver (connections refused); heal starts it again on the same etcd',
  needs: [],
  async inject(context) {
    const p = plane(context);
    const { apiserver } = p.recorded().pids;
    process.kill(-apiserver, 'SIGKILL');
    context.say(`killed kube-apiserver (pid ${apiserver})`);
    return {
      what: 'kube-apiserver killed (connections refused)',
      async heal() {
        await p.up();
        context.say('kube-apiserver is ready again');
      },
    };
  },
};

export const apiRestore: FaultKind = {
  kind: 'api-restore',
  summary: "stop the control plane and put etcd back to a copy taken moments before (older resourceVersions); heal starts it",
  needs: [],
  async inject(context) {
    const p = plane(context);
    const data = path.join(p.dir, 'etcd');
    const backup = path.join(p.dir, 'etcd.lab-fault-backup');
    if (!existsSync(data)) throw new Error(`no etcd data in ${data}: is the lab up?`);
    // A cold copy (etcd stopped) is a consistent one.
    await controlPlaneDown(p.dir);
    rmSync(backup, { recursive: true, force: true });
    cpSync(data, backup, { recursive: true });
    const plane1 = await p.up();
    // The history moves on after the backup (as a cluster's does: leases, events, edits).
    const kubeconfig = plane1.kubeconfig;
    for (let i = 0; i < 20; i++) await kubectlOk(kubeconfig, ['create', 'configmap', `lab-fault-history-${i}`, '-n', 'default', `--from-literal=i=${i}`]);
    await kubectlOk(kubeconfig, ['delete', 'configmap', '-n', 'default', ...Array.from({ length: 20 }, (_, i) => `lab-fault-history-${i}`)]);
    context.say('copied etcd and moved its history on by 40 revisions');
    await new Promise((r) => setTimeout(r, 2000)); // the agents' watches at the newest revision
    await controlPlaneDown(p.dir);
    rmSync(data, { recursive: true, force: true });
    cpSync(backup, data, { recursive: true });
    rmSync(backup, { recursive: true, force: true });
    context.say('stopped the control plane and restored etcd from the copy');
    return {
      what: 'etcd restored from a backup (resourceVersions went back)',
      async heal() {
        await p.up();
        context.say('the control plane is ready again, with the restored history');
      },
    };
  },
};
