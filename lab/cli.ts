// `npm run lab -- up [--topology FILE] [--no-agent] [--no-install] | pods | down | status [--json] |
// exec NODE|POD -- CMD | srcdst NODE|all on|off | kubectl ARGS | packages [--for USE...] [--check]`:
// the seed's cluster on this machine (docs/lab.md). Root only.
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import type { PackageUse } from '../shared/host/debian-packages.ts';
import { ensureBinaries } from './controlplane/build.ts';
import { ensureDebianPackages, missingPackages } from './host/packages.ts';
import { registerFaultCommand } from './faults/fault-command.ts';
import { execArgv, labDown, labPods, labSrcdst, labStatus, labUp, readLabState } from './lab.ts';

const program = new Command('lab').description("The seed's cluster in network namespaces: real sshd, kube-apiserver, agents and pods").showHelpAfterError();

function needRoot(): void {
  if (process.getuid?.() !== 0) {
    console.error('The lab makes network namespaces, bridges, mounts and routes: run it as root (sudo npm run lab -- ...).');
    process.exit(1);
  }
}

program
  .command('up')
  .description('build the lab (idempotent: what runs is kept)')
  .option('--topology <file>', 'a topology file (subnets, nodes, pods, pool); the seed’s by default')
  .option('--no-agent', 'leave the agent off (the console installs it); no pods then')
  .option('--no-install', 'do not install missing Debian packages (only say which)')
  .action(async (options: { topology?: string; agent: boolean; install: boolean }) => {
    needRoot();
    // What the lab's steps run, installed first on a fresh machine (labUp then checks it all).
    if (options.install && !ensureDebianPackages(['lab'])) process.exit(1);
    const state = await labUp({ ...(options.topology ? { topologyFile: options.topology } : {}), agent: options.agent });
    console.log(state.kubeconfig);
  });

const uses: PackageUse[] = ['lab', 'integration', 'e2e'];

program
  .command('packages')
  .description('install the Debian packages that the lab (and, with --for, the test tiers) need and this machine lacks')
  .option('--for <uses...>', `who needs them: ${uses.join(', ')}`, ['lab'])
  .option('--check', 'only list what is missing (exit 1 if anything is)')
  .action((options: { for: string[]; check?: boolean }) => {
    const unknown = options.for.filter((use) => !uses.includes(use as PackageUse));
    if (unknown.length > 0) throw new Error(`unknown use ${unknown.join(', ')}: the uses are ${uses.join(', ')}`);
    const wanted = options.for as PackageUse[];
    if (options.check) {
      const missing = missingPackages(wanted);
      for (const pkg of missing) console.log(`${pkg.name} ${pkg.provides} ${pkg.why}`);
      process.exit(missing.length > 0 ? 1 : 0);
    }
    process.exit(ensureDebianPackages(wanted) ? 0 : 1);
  });

program
  .command('pods')
  .description('start the pods on a lab brought up with --no-agent, once the agent is installed on their nodes (from the console)')
  .action(async () => {
    needRoot();
    const state = await labPods();
    for (const pod of Object.values(state.pods)) console.log(`${pod.name} ${pod.node} ${pod.ip}`);
  });

program
  .command('down')
  .description('remove everything the lab made (namespaces, processes, mounts, the admin link and its routes)')
  .action(async () => {
    needRoot();
    await labDown();
  });

program
  .command('status')
  .description('nodes, agents, pods, and where the kubeconfig and SSH key are')
  .option('--json', 'for scripts: kubeconfig, sshKey, nodes (name, address, subnet, agent), pods (name, node, ip)')
  .action(async (options: { json?: boolean }) => {
    const status = await labStatus();
    if (options.json) {
      console.log(JSON.stringify(status, null, 2));
    } else if (!readLabState()) {
      console.log('The lab is not up. Start it with: sudo npm run lab -- up');
    } else {
      const lines = [
        `lab: ${status.up ? 'up' : 'partly up (run up again, or down)'}  topology: ${status.topologyFile}`,
        `API server: ${status.server ?? 'not running'}`,
        `kubeconfig: ${status.kubeconfig ?? '-'}`,
        `ssh key:    ${status.sshKey ?? '-'}   (known_hosts: ${status.knownHosts ?? '-'})`,
        '',
        'NODE          ADDRESS        SUBNET           SRC/DST  AGENT',
        ...status.nodes.map((n) => `${n.name.padEnd(13)} ${n.address.padEnd(14)} ${n.subnet.padEnd(16)} ${(n.srcdstChecks ? 'on' : 'off').padEnd(8)} ${n.agent.state}${n.agent.detail ? ` (${n.agent.detail})` : ''}`),
        '',
        'POD           NODE          IP',
        ...status.pods.map((p) => `${p.name.padEnd(13)} ${p.node.padEnd(13)} ${p.ip}`),
      ];
      console.log(lines.join('\n'));
    }
    if (!status.up) process.exitCode = 1;
  });

program
  .command('exec')
  .description("run a command in a node's namespaces (network and mount) or a pod's network namespace: exec worker-1 -- ip route")
  .argument('<target>', 'a node, a pod, or fabric')
  .argument('<command...>')
  .allowUnknownOption()
  .action(async (target: string, command: string[]) => {
    needRoot();
    const argv = await execArgv(target, command);
    const result = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    process.exit(result.status ?? 1);
  });

program
  .command('srcdst')
  .description('switch source/destination checks for a node, or all, on or off')
  .argument('<node>', 'a node name, or all')
  .argument('<state>', 'on or off')
  .action(async (node: string, state: string) => {
    needRoot();
    if (state !== 'on' && state !== 'off') throw new Error(`the state must be on or off, not ${state}`);
    const checks = await labSrcdst(node, state === 'on');
    console.log(Object.entries(checks).map(([name, on]) => `${name}: ${on ? 'on' : 'off'}`).join('\n'));
  });

program
  .command('kubectl')
  .description("the built kubectl with the lab's admin kubeconfig")
  .argument('[args...]')
  .allowUnknownOption()
  .helpOption(false)
  .action(async (args: string[]) => {
    const state = readLabState();
    if (!state?.kubeconfig) throw new Error('the lab is not up: start it with `sudo npm run lab -- up`');
    const { kubectl } = await ensureBinaries();
    const result = spawnSync(kubectl, ['--kubeconfig', state.kubeconfig, ...args], { stdio: 'inherit' });
    process.exit(result.status ?? 1);
  });

registerFaultCommand(program, needRoot);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`lab: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
