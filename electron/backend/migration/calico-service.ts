// How calico-node runs on a node, and how the migration stops it and starts it again without
// touching the kernel's routes.
//
// - A host service (a systemd unit `calico-node`, or an init script /etc/init.d/calico-node as on
//   the lab's nodes): stopped with SIGKILL to every process of the service, as a kubelet ends a
//   container past its grace period. Felix and BIRD then leave the routes, neighbours and FDB
//   entries as they are, and BIRD sends its peers no Cease: with graceful restart (Calico's
//   bird.cfg has it) they keep its routes as stale until the next speaker on the node sends them.
// - A pod of Calico's DaemonSet (a real cluster): stopped by labelling the Node so that the
//   DaemonSet's node affinity excludes it, which the admin adds once (`daemonSetExclusion`); the
//   DaemonSet controller then deletes the pod. Started again by removing the label.
import type { Client } from 'ssh2';
import { networkAgentLabel } from '../../../shared/api/agent-contract.ts';
import type { CalicoRunsAs } from '../../../shared/api/migration-contract.ts';
import { felixStatus } from '../cluster-ops/calico-node-status.ts';
import { runScript, runScriptOk } from '../installer/remote.ts';

/** The node affinity term the admin adds to Calico's DaemonSet once, so that the label stops its pod. */
export function daemonSetExclusion(namespace: string, name: string): string {
  const patch = {
    spec: {
      template: {
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: networkAgentLabel.key, operator: 'NotIn', values: [networkAgentLabel.value] }] }],
              },
            },
          },
        },
      },
    },
  };
  return `kubectl -n ${namespace} patch daemonset ${name} --type=merge -p '${JSON.stringify(patch)}'`;
}

/** Whether a DaemonSet's pod template keeps off nodes with the label (NotIn [gingham], or DoesNotExist on the key). */
export function daemonSetExcludesLabel(affinity: unknown): boolean {
  const terms = (affinity as { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: Array<{ matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }> } } } | undefined)
    ?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  // Terms are ORed: every one of them must exclude the label.
  return (
    (terms?.length ?? 0) > 0 &&
    terms!.every((term) =>
      (term.matchExpressions ?? []).some(
        (e) => e.key === networkAgentLabel.key && ((e.operator === 'NotIn' && (e.values ?? []).includes(networkAgentLabel.value)) || e.operator === 'DoesNotExist'),
      ),
    )
  );
}

/** Which host service runs calico-node, and whether it runs now (`runs=...`, `active=yes|no`). */
const hostServiceScript = `
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemctl cat calico-node >/dev/null 2>&1; then
  echo runs=systemd
  systemctl is-active --quiet calico-node && echo active=yes || echo active=no
elif [ -x /etc/init.d/calico-node ]; then
  echo runs=init-script
  /etc/init.d/calico-node status >/dev/null 2>&1 && echo active=yes || echo active=no
fi
`;

export interface HostService {
  runsAs: Exclude<CalicoRunsAs, 'daemonset'>;
  active: boolean;
}

export async function hostService(client: Client): Promise<HostService | undefined> {
  const out = await runScriptOk(client, 'looking for calico-node', hostServiceScript);
  const runs = /runs=(systemd|init-script)/.exec(out)?.[1] as HostService['runsAs'] | undefined;
  return runs ? { runsAs: runs, active: out.includes('active=yes') } : undefined;
}

const stopScripts: Record<HostService['runsAs'], string> = {
  // KillMode=control-group with SIGKILL: every process of the unit at once, nothing sent to peers.
  systemd: 'systemctl kill --kill-whom=all -s SIGKILL calico-node; systemctl stop calico-node; systemctl is-active --quiet calico-node && exit 1; echo "calico-node was stopped (SIGKILL)"',
  'init-script': '/etc/init.d/calico-node stop',
};
const startScripts: Record<HostService['runsAs'], string> = {
  systemd: 'systemctl start calico-node && echo "calico-node was started"',
  'init-script': '/etc/init.d/calico-node start',
};

export async function stopHostService(client: Client, runsAs: HostService['runsAs']): Promise<string> {
  const said = (await runScriptOk(client, 'stopping calico-node', stopScripts[runsAs], [], 60_000)).trim();
  await calicoNodeGone(client);
  return said;
}

/**
 * What answers of calico-node on the node: Felix on its health port, BIRD on BGP's port. A Felix
 * left running fights the agent for the routes: it puts back its own blackhole and, within its
 * route refresh (90 s), deletes the agent's routes to the node's pods (seen on the lab when the
 * init script's stop killed only the supervisor).
 */
const leftScript = `
felix=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:9099/liveness 2>/dev/null || true)
[ -n "$felix" ] && [ "$felix" != 000 ] && echo "felix=$felix"
ss -Hltnp 'sport = :179' 2>/dev/null | grep -q bird && echo bird=listening
true
`;

/** Waits up to 5 s until neither Felix nor BIRD answers; fails saying which one still does. */
export async function calicoNodeGone(client: Client, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = (await runScript(client, "checking calico-node's processes are gone", leftScript, [], 20_000)).stdout.trim();
    if (!left) return;
    if (Date.now() > deadline) {
      const what = [left.includes('felix=') ? 'Felix answers on 127.0.0.1:9099' : '', left.includes('bird=') ? 'BIRD listens on TCP 179' : ''].filter(Boolean).join(' and ');
      throw new Error(`calico-node was stopped, but ${what}: some of its processes outlived the stop and would fight the agent for the routes. Stop them on the node (pkill -KILL -f 'calico-node -felix'; pkill -KILL -x bird), then run the migration again.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function startHostService(client: Client, runsAs: HostService['runsAs']): Promise<string> {
  return (await runScriptOk(client, 'starting calico-node', startScripts[runsAs], [], 60_000)).trim();
}

/** Felix ready on its health port and BIRD's control socket there (with the BGP backend). */
export async function calicoNodeReady(client: Client): Promise<{ felix: boolean; bird: boolean; detail: string }> {
  const felix = await felixStatus(client).catch(() => ({ readiness: '000', liveness: '000' }));
  const bird = (await runScript(client, "looking for BIRD's socket", '[ -S /var/run/calico/bird.ctl ] && echo bird=yes || echo bird=no', [], 20_000).catch(() => ({ stdout: '' }))).stdout.includes('bird=yes');
  const felixText = felix.readiness === '200' ? 'Felix ready' : felix.readiness === '000' ? 'Felix not answering on 127.0.0.1:9099' : `Felix not ready (HTTP ${felix.readiness})`;
  return { felix: felix.readiness === '200', bird, detail: `${felixText}, BIRD's control socket ${bird ? 'up' : 'absent'}` };
}
