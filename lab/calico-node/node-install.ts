// Installs and starts Project Calico's calico-node on a lab node over SSH, laid out as Calico's
// DaemonSet and image lay it out on a host: confd's templates in /etc/calico/confd (rendered into
// config/ there), state in /var/lib/calico and /var/run/calico, the CNI plugin and its network
// configuration in /opt/cni/bin and /etc/cni/net.d. The processes are the image's, in its order:
// `calico-node -startup` once (the Node's address and AS, ClusterInformation, FelixConfiguration,
// the default Tiers), then, each restarted when it exits as runit restarts it in the image,
// `-allocate-tunnel-addrs`, `-felix`, `-confd` and BIRD 1.6 with confd's bird.cfg. Felix exits on
// purpose after a change of encapsulation (a VXLAN or IP-in-IP mode switch) and relies on that restart.
//
// The lab's nodes each have a private /etc, /opt, /var/lib and /run (lab/nodes/node.ts), so two
// Calico nodes on one machine do not see each other's files. Logs go to /var/lib/calico/log/<process>.log.
import { subnetOfNode, type Topology, type TopologyNode } from '../topology/topology.ts';
import { sshScript } from '../nodes/agent-install.ts';
import type { LabKeys } from '../nodes/ssh-keys.ts';
import { sleep } from '../sh.ts';
import type { CalicoNodeBuild } from './build.ts';

export const calicoNodePaths = {
  env: '/etc/calico/calico-node.env',
  kubeconfig: '/etc/calico/kubeconfig',
  confd: '/etc/calico/confd',
  birdConfig: '/etc/calico/confd/config/bird.cfg',
  birdSocket: '/var/run/calico/bird.ctl',
  bin: '/opt/calico/bin',
  supervisor: '/opt/calico/bin/calico-node-supervise',
  supervisorPid: '/var/run/calico/supervisor.pid',
  /** start | stop | status, as a host's init script: how the console's migration stops and starts calico-node here. */
  initScript: '/etc/init.d/calico-node',
  logs: '/var/lib/calico/log',
  cniConfig: '/etc/cni/net.d/10-calico.conflist',
  /** Felix's health port on the node's loopback (FELIX_HEALTHHOST, FELIX_HEALTHPORT's default). */
  felixHealth: 'http://127.0.0.1:9099',
} as const;

/**
 * The DaemonSet's environment for calico-node, with what the lab's build needs:
 * - FELIX_BPFENABLED=false and FELIX_DebugSkipCTLBCleanup=true: the cgo-less build's libbpf stubs
 *   panic when called (lab/calico-node/build.ts), and Felix's clean-up of BPF's connect-time load
 *   balancer calls them even with BPF off unless told to skip it;
 * - FELIX_NFTABLESMODE=Enabled: Felix writes nftables, as the Gingham agent does (it still runs
 *   iptables-save and ipset at start, from Debian's iptables and ipset packages);
 * - IP given, not autodetected: the node's ens5 address with its subnet's prefix, as the lab's Node objects say.
 */
export function calicoNodeEnv(topology: Topology, node: TopologyNode): Record<string, string> {
  const prefix = subnetOfNode(topology, node).cidr.split('/')[1];
  return {
    DATASTORE_TYPE: 'kubernetes',
    KUBECONFIG: calicoNodePaths.kubeconfig,
    NODENAME: node.name,
    CALICO_NETWORKING_BACKEND: 'bird',
    CLUSTER_TYPE: 'k8s,bgp',
    IP: `${node.address}/${prefix}`,
    IP6: 'none',
    NO_DEFAULT_POOLS: 'true',
    WAIT_FOR_DATASTORE: 'true',
    CALICO_STARTUP_LOGLEVEL: 'info',
    FELIX_FELIXHOSTNAME: node.name,
    FELIX_LOGSEVERITYSCREEN: 'info',
    FELIX_LOGFILEPATH: 'none',
    FELIX_LOGSEVERITYSYS: 'none',
    FELIX_BPFENABLED: 'false',
    // Read by Felix with os.Getenv in exactly this case (not as a configuration parameter).
    FELIX_DebugSkipCTLBCleanup: 'true',
    FELIX_XDPENABLED: 'false',
    FELIX_NFTABLESMODE: 'Enabled',
    FELIX_IPTABLESBACKEND: 'Auto',
    FELIX_IPV6SUPPORT: 'false',
    FELIX_HEALTHENABLED: 'true',
    FELIX_HEALTHHOST: '127.0.0.1',
    FELIX_USAGEREPORTINGENABLED: 'false',
    FELIX_DEFAULTENDPOINTTOHOSTACTION: 'ACCEPT',
    PATH: `${calicoNodePaths.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  };
}

/** Calico's CNI network configuration as its install-cni container writes it (Kubernetes datastore, calico-ipam). */
export function calicoCniConflist(nodeName: string): string {
  return JSON.stringify(
    {
      name: 'k8s-pod-network',
      cniVersion: '0.3.1',
      plugins: [
        {
          type: 'calico',
          log_level: 'info',
          log_file_path: `${calicoNodePaths.logs}/cni.log`,
          datastore_type: 'kubernetes',
          nodename: nodeName,
          // 0: the MTU Felix writes to /var/lib/calico/mtu (its VXLAN device's).
          mtu: 0,
          ipam: { type: 'calico-ipam' },
          policy: { type: 'k8s' },
          kubernetes: { kubeconfig: calicoNodePaths.kubeconfig },
        },
      ],
    },
    null,
    2,
  );
}

function heredoc(file: string, content: string, mode: string): string {
  const marker = 'GINGHAM_CALICO_EOF';
  if (content.includes(marker)) throw new Error(`${file}: content contains the heredoc marker`);
  return `cat > ${file} <<'${marker}'\n${content.endsWith('\n') ? content : content + '\n'}${marker}\nchmod ${mode} ${file}`;
}

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

function supervisorScript(): string {
  const p = calicoNodePaths;
  return [
    '#!/bin/sh',
    "# calico-node's processes as runit runs them in Calico's image: startup once, the rest restarted when they exit.",
    `set -a; . ${p.env}; set +a`,
    `echo $$ > ${p.supervisorPid}`,
    `L=${p.logs}`,
    'until calico-node -startup >> $L/startup.log 2>&1; do echo "=== startup failed ($?); again in 2 s" >> $L/startup.log; sleep 2; done',
    'keep() {',
    '  name=$1; shift',
    '  ( while :; do "$@" >> $L/$name.log 2>&1; echo "=== $name exited with status $? at $(date +%T.%N); restarting in 1 s" >> $L/$name.log; sleep 1; done ) &',
    '}',
    'keep allocate-tunnel-addrs calico-node -allocate-tunnel-addrs',
    'keep felix calico-node -felix',
    'keep confd calico-node -confd',
    // BIRD starts once confd has rendered its configuration; bird.cfg includes its siblings by relative name.
    `keep bird sh -c 'cd ${p.confd}/config && while [ ! -s bird.cfg ]; do sleep 0.5; done; exec bird -R -s ${p.birdSocket} -d -c ${p.birdConfig} -P /var/run/calico/bird.pid'`,
    'wait',
  ].join('\n');
}

/**
 * The init script of a host service (start, stop, status), which is how the console's migration
 * (electron/backend/migration/) finds and drives calico-node on a node that runs it outside
 * Kubernetes. `stop` kills the supervisor's whole process group with SIGKILL, as a kubelet ends a
 * container past its grace period: Felix and BIRD leave the kernel's routes, neighbours and FDB
 * entries as they are, and BIRD sends its peers no Cease, so with graceful restart they keep its
 * routes as stale until the next speaker on the node has sent them again.
 */
function initScript(): string {
  const p = calicoNodePaths;
  return [
    '#!/bin/sh',
    "# calico-node as a host service (written by the lab's Calico install).",
    `P=${p.supervisorPid}`,
    'running() { [ -f "$P" ] && kill -0 "$(cat "$P")" 2>/dev/null; }',
    'case "$1" in',
    '  start)',
    '    if running; then echo "calico-node is already running"; exit 0; fi',
    `    setsid ${p.supervisor} >> ${p.logs}/supervisor.log 2>&1 < /dev/null &`,
    '    echo "calico-node was started";;',
    '  stop)',
    '    if ! running; then rm -f "$P"; echo "calico-node is not running"; exit 0; fi',
    // setsid made the supervisor a process group leader: its group is every process it started.
    // `kill -KILL -PGID`, not `kill -KILL -- -PGID`: dash's kill takes no `--` ("Illegal number"),
    // and the fallback then killed the supervisor alone, leaving Felix, confd and BIRD running.
    '    pid=$(cat "$P"); kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid"',
    '    i=0; while kill -0 -"$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
    '    rm -f "$P" /var/run/calico/bird.pid',
    '    echo "calico-node was stopped (SIGKILL: the kernel keeps its routes)";;',
    '  status)',
    '    if running; then echo "calico-node is running (supervisor pid $(cat "$P"))"; else echo "calico-node is not running"; exit 3; fi;;',
    '  *) echo "usage: $0 start|stop|status" >&2; exit 2;;',
    'esac',
  ].join('\n');
}

export function calicoInstallScript(topology: Topology, node: TopologyNode, build: CalicoNodeBuild, kubeconfig: string): string {
  const p = calicoNodePaths;
  const env = Object.entries(calicoNodeEnv(topology, node))
    .map(([key, value]) => `${key}=${shellQuote(value)}`)
    .join('\n');
  return [
    'set -eu',
    'umask 022',
    `mkdir -p ${p.bin} /opt/cni/bin /etc/cni/net.d ${p.confd}/config /var/lib/calico /var/run/calico`,
    `install -d -m 0700 ${p.logs}`,
    // The cached build is on the machine's disk, which every lab node sees.
    `ln -sf ${build.calicoNode} ${p.bin}/calico-node`,
    `ln -sf ${build.birdBin}/bird ${p.bin}/bird`,
    `ln -sf ${build.birdBin}/birdc ${p.bin}/birdc`,
    `ln -sf ${build.cniPlugin} /opt/cni/bin/calico`,
    `ln -sf ${build.cniPlugin}-ipam /opt/cni/bin/calico-ipam`,
    `cp -r ${build.confd}/conf.d ${build.confd}/templates ${p.confd}/`,
    heredoc(p.kubeconfig, kubeconfig, '0600'),
    heredoc(p.env, env, '0600'),
    heredoc(p.supervisor, supervisorScript(), '0755'),
    heredoc(p.cniConfig, calicoCniConflist(node.name), '0644'),
    'mkdir -p /etc/init.d',
    heredoc(p.initScript, initScript(), '0755'),
    `${p.initScript} start`,
    `echo "calico-node v3.31.0 (logs in ${p.logs})"`,
    '',
  ].join('\n');
}

export async function installCalicoNode(keys: LabKeys, topology: Topology, node: TopologyNode, build: CalicoNodeBuild, kubeconfig: string): Promise<string> {
  const result = await sshScript(keys, node.address, calicoInstallScript(topology, node, build, kubeconfig));
  if (result.code !== 0) throw new Error(`installing calico-node on ${node.name} over SSH failed (status ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout.trim();
}

export interface CalicoNodeHealth {
  felixReady: boolean;
  birdSocket: boolean;
  detail: string;
}

/** Felix's readiness (its health endpoint) and BIRD's control socket, read on the node over SSH. */
export async function calicoNodeHealth(keys: LabKeys, address: string): Promise<CalicoNodeHealth> {
  const p = calicoNodePaths;
  const script = [
    `code=$(curl -s -o /dev/null -w '%{http_code}' ${p.felixHealth}/readiness || true)`,
    'echo "felix=$code"',
    `if [ -S ${p.birdSocket} ]; then echo bird=yes; else echo bird=no; fi`,
  ].join('\n');
  const result = await sshScript(keys, address, script, 30_000);
  const felix = /felix=(\d+)/.exec(result.stdout)?.[1] ?? '000';
  const bird = result.stdout.includes('bird=yes');
  return { felixReady: felix === '200', birdSocket: bird, detail: `Felix readiness ${felix === '000' ? 'not answering' : `HTTP ${felix}`}, BIRD control socket ${bird ? 'up' : 'absent'}` };
}

export async function waitForCalicoNode(keys: LabKeys, node: TopologyNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const health = await calicoNodeHealth(keys, node.address).catch((error: Error) => ({ felixReady: false, birdSocket: false, detail: error.message }));
    if (health.felixReady && health.birdSocket) return;
    last = health.detail;
    await sleep(1000);
  }
  throw new Error(`calico-node on ${node.name} was not ready within ${timeoutMs / 1000} s (${last}); see ${calicoNodePaths.logs}/ on it (npm run lab -- exec ${node.name} -- tail ${calicoNodePaths.logs}/felix.log)`);
}
