// The user-space tunl0: the native helper (native/tunl0.c) that owns a TUN device named tunl0 and
// pumps IP-in-IP through a raw socket. This module starts it, feeds it the table of remote
// block -> node address it needs to pick each packet's outer destination, and stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const helperPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'native', 'build', 'Release', 'gingham-tunl0');

export interface TunnelRoute {
  dst: string;
  gateway: string;
}

export class UserspaceTunnel {
  private child: ChildProcess | undefined;
  private lines: AsyncIterator<string> | undefined;
  private table = '';
  private stopping = false;

  constructor(
    readonly name: string,
    readonly local: string,
    /** Called when the helper dies on its own, so that the reconciler can start it again. */
    private readonly onExit: (reason: string) => void,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the helper and waits until its TUN device exists. */
  async start(): Promise<void> {
    if (this.child) return;
    if (!existsSync(helperPath)) {
      throw new Error(`the user-space tunl0 helper is not built (${helperPath}): run \`node scripts/ensure-deps.mjs\` (needs gcc, make, python3)`);
    }
    const child = spawn(helperPath, [this.name, this.local], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    child.stdin!.on('error', () => undefined); // exit is reported by the 'exit' handler
    this.child = child;
    this.table = '';
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.lines = undefined;
      if (!this.stopping) this.onExit(`the user-space tunl0 helper exited (${signal ?? `code ${code}`}): ${stderr.trim() || 'no message'}`);
    });
    const first = await this.lines.next();
    if (first.done || first.value !== 'ready') {
      await new Promise((resolve) => setTimeout(resolve, 50)); // let stderr arrive
      this.child = undefined;
      child.kill('SIGKILL');
      throw new Error(`the user-space tunl0 helper did not start: ${stderr.trim() || 'no message'}`);
    }
  }

  /** Replaces the helper's table (a no-op when it is unchanged); resolves once the helper took it. */
  async setRoutes(routes: readonly TunnelRoute[]): Promise<void> {
    const text = `set ${routes.length}\n${routes.map((r) => `${r.dst} ${r.gateway}\n`).join('')}`;
    if (!this.child || !this.lines || text === this.table) return;
    this.child.stdin!.write(text);
    const reply = await this.lines.next();
    if (reply.done) throw new Error('the user-space tunl0 helper exited while taking its route table');
    this.table = text;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
    this.stopping = false;
  }
}
