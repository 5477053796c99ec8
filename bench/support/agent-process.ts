// The whole agent (`gingham-agent run`) as a benchmark runs it in a node's namespace, with its
// control socket, peak-RSS/CPU pid and log.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SpeakerStatus } from '../../agent/bgp/speaker.ts';
import type { LabNode } from '../../lab/testing/netns-lab.ts';
import { callRpc } from '../../agent/rpc/client.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `gingham-agent run` in the node's namespace, as a node runs it: the built executable (the path
 * users run) or, without one, from the checkout through tsx (agent/run/testing/agents.ts does the
 * same for the tests; tsx's compiling adds to the peak RSS). `ip netns exec` execs the program,
 * so the child's pid is the agent's.
 */
export class BenchAgent {
  private child: ChildProcess | undefined;
  log = '';
  readonly control: string;

  constructor(
    private readonly node: LabNode,
    private readonly dir: string,
    private readonly kubeconfig: string,
    private readonly options: { nodeName: string; autodetect: string; executable?: string },
  ) {
    this.control = path.join(dir, 'agent.sock');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const config = path.join(this.dir, 'agent.yaml');
    writeFileSync(config, JSON.stringify({ nodeName: this.options.nodeName, kubeconfig: this.kubeconfig, autodetect: this.options.autodetect, control: this.control, watchTimeoutSeconds: 30 }));
    // BENCH_CPU_PROF=DIR: a V8 CPU profile of the agent (through tsx only) written there at its exit.
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    const program = this.options.executable ? [this.options.executable] : [process.execPath, ...profile, '--import', 'tsx', path.join(repoRoot, 'agent/cli/bin.ts')];
    // BENCH_HEAP_SNAPSHOTS=DIR: the agent writes a heap snapshot there on SIGURG (agent-bgp-kernel.ts
    // asks for them); BENCH_AGENT_NODE_OPTIONS: more of Node's options for the agent alone (the
    // built executable takes them from NODE_OPTIONS as node does).
    const snapshots = process.env.BENCH_HEAP_SNAPSHOTS ? `--heapsnapshot-signal=SIGURG --diagnostic-dir=${process.env.BENCH_HEAP_SNAPSHOTS}` : '';
    const nodeOptions = [snapshots, process.env.BENCH_AGENT_NODE_OPTIONS ?? ''].filter(Boolean).join(' ');
    this.child = spawn('ip', ['netns', 'exec', this.node.ns, ...program, 'run', '--config', config], {
      cwd: repoRoot,
      env: { ...process.env, GINGHAM_RUN_DIR: path.join(this.dir, 'run'), ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-200_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
  }

  status(): Promise<unknown> {
    return callRpc(this.control, 'status', undefined, 10_000);
  }

  bgp(): Promise<SpeakerStatus> {
    return callRpc<SpeakerStatus>(this.control, 'bgp.status', undefined, 10_000);
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

