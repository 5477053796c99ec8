// Runs `gingham-agent run` as its own process in a node's namespace, as on a real node, and talks
// to it over its control socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { callRpc } from '../../rpc/client.ts';
import type { TestNode } from '../../../lab/testing/node-network.ts';
import type { NodeAgent } from '../node-agent.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export type AgentStatus = ReturnType<NodeAgent['status']>;

export class AgentProcess {
  private child: ChildProcess | undefined;
  log = '';

  constructor(
    readonly node: TestNode,
    readonly dir: string,
    private readonly kubeconfig: string,
  ) {}

  get control(): string {
    return path.join(this.dir, `${this.node.name}.sock`);
  }

  start(): void {
    const config = path.join(this.dir, `${this.node.name}.yaml`);
    writeFileSync(
      config,
      JSON.stringify({ nodeName: this.node.name, kubeconfig: this.kubeconfig, autodetect: 'interface=eth0', control: this.control, watchTimeoutSeconds: 30 }),
    );
    const child = spawn('ip', ['netns', 'exec', this.node.netns, process.execPath, '--import', 'tsx', path.join(repo, 'agent/cli/bin.ts'), 'run', '--config', config], {
      cwd: repo,
      env: { ...process.env, GINGHAM_RUN_DIR: path.join(this.dir, this.node.name) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.child = child;
  }

  status(): Promise<AgentStatus> {
    return callRpc<AgentStatus>(this.control, 'status', undefined, 5000);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
