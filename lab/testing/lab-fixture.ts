// The lab as a test fixture: `const lab = await useLab()` in beforeAll, `await lab.release()` in
// afterAll. Only one lab can be up on a machine (its admin link routes 10.240.1.0/24 and
// 10.240.2.0/24 in the machine's namespace), so test files share it through leases: a file that
// finds the lab up uses it, and the last lease to go takes the lab down if a fixture started it
// (a lab a person started stays up). A file that changes the cluster's routing (the scenario
// tests) asks for `exclusive`, and is refused while another file holds a lease, and vice versa.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultLabDir, labDown, labStatus, labUp, readLabState, type LabStatus } from '../lab.ts';
import { processAlive, sleep } from '../sh.ts';

export interface LabLease {
  status: LabStatus;
  stateDir: string;
  /** Ends this file's use; takes the lab down when it was the last user of a lab a fixture started. */
  release(): Promise<void>;
}

interface Lease {
  pid: number;
  exclusive: boolean;
  file: string;
}

function leases(dir: string): Lease[] {
  const leaseDir = path.join(dir, 'leases');
  if (!existsSync(leaseDir)) return [];
  return readdirSync(leaseDir).flatMap((name) => {
    const file = path.join(leaseDir, name);
    try {
      const lease = JSON.parse(readFileSync(file, 'utf8')) as Omit<Lease, 'file'>;
      if (processAlive(lease.pid)) return [{ ...lease, file }];
    } catch {
      // half-written or foreign: treat as gone
    }
    rmSync(file, { force: true });
    return [];
  });
}

export interface UseLabOptions {
  /** With the agent on every node and pod-1..3 (default), or without (the console installs it). */
  agent?: boolean;
  /** No other test file may use the lab meanwhile (for tests that switch its routing). */
  exclusive?: boolean;
  /** Build the lab anew even if one is up (one that a fixture started; a person's lab is never taken down). */
  fresh?: boolean;
  topologyFile?: string;
  /** How long to wait for other test files to finish with the lab before giving up; 10 min by default. */
  waitMs?: number;
  progress?: (line: string) => void;
}

/** A lab command (up, down, srcdst) running in another process. */
function lockedByOther(dir: string): boolean {
  try {
    const holder = Number(readFileSync(path.join(dir, 'lab.lock'), 'utf8'));
    return holder !== process.pid && processAlive(holder);
  } catch {
    return false;
  }
}

const fixtureMarker = (dir: string) => path.join(dir, 'started-by-fixture');

export async function useLab(options: UseLabOptions = {}): Promise<LabLease> {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, mounts, routes)');
  const dir = defaultLabDir();
  const wantAgent = options.agent ?? true;
  const deadline = Date.now() + (options.waitMs ?? 600_000);
  let said = '';
  for (;;) {
    const others = leases(dir).filter((l) => l.pid !== process.pid);
    const state = readLabState(dir);
    const why = options.exclusive && others.length > 0
      ? `this test needs the lab to itself, and pid(s) ${others.map((l) => l.pid).join(', ')} are using it`
      : others.some((l) => l.exclusive)
        ? `pid ${others.find((l) => l.exclusive)!.pid} is using the lab exclusively (the scenario tests switch its routing)`
        : others.length > 0 && (options.fresh || (state && state.agents !== wantAgent))
          ? `the lab is up ${state?.agents ? 'with' : 'without'} agents for pid(s) ${others.map((l) => l.pid).join(', ')}, and this test wants ${options.fresh ? 'a fresh one' : wantAgent ? 'agents' : 'no agents (--no-agent)'}`
          : undefined;
    if (!why && !lockedByOther(dir)) break;
    if (Date.now() > deadline) throw new Error(`${why ?? 'another lab command is running'}; gave up waiting`);
    if (why && why !== said) (options.progress ?? console.error)(`useLab: waiting: ${why}`);
    said = why ?? '';
    await sleep(2000);
  }
  const state = readLabState(dir);
  if (state && (options.fresh || state.agents !== wantAgent)) {
    if (!existsSync(fixtureMarker(dir))) {
      throw new Error(
        `a lab someone started is up ${state.agents ? 'with' : 'without'} agents, and this test wants ${options.fresh ? 'to build its own' : wantAgent ? 'agents' : 'none'}: ` +
          'take it down first (npm run lab -- down)',
      );
    }
    await labDown({ progress: () => {} }); // left by a test file that did not release it
  }
  mkdirSync(path.join(dir, 'leases'), { recursive: true });
  const leaseFile = path.join(dir, 'leases', `${process.pid}`);
  writeFileSync(leaseFile, JSON.stringify({ pid: process.pid, exclusive: options.exclusive ?? false }));
  const startedHere = !readLabState(dir);
  try {
    const progress = options.progress ?? (() => {});
    // Idempotent: a lab that is up is kept; missing parts are made.
    await labUp({ agent: wantAgent, progress, ...(options.topologyFile ? { topologyFile: options.topologyFile } : {}) });
    if (startedHere) writeFileSync(fixtureMarker(dir), String(process.pid));
  } catch (error) {
    rmSync(leaseFile, { force: true });
    if (startedHere) await labDown({ progress: () => {} });
    throw error;
  }
  return {
    status: await labStatus(dir),
    stateDir: dir,
    async release() {
      // Down first, lease last: a file waiting for the lab must not see it free while it is being taken down.
      const marker = fixtureMarker(dir);
      if (leases(dir).every((l) => l.pid === process.pid) && existsSync(marker)) {
        await labDown({ progress: () => {} });
        rmSync(marker, { force: true });
      }
      rmSync(leaseFile, { force: true });
    },
  };
}
