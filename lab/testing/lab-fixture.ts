// The lab as a test fixture: `const lab = await useLab()` in beforeAll, `await lab.release()` in
// afterAll. Only one lab can be up on a machine (its admin link routes 10.240.1.0/24 and
// 10.240.2.0/24 in the machine's namespace), so test files share it through leases: a file that
// finds the lab up uses it, and the last lease to go takes the lab down if a fixture started it
// (a lab a person started stays up). A file that changes the cluster's routing (the scenario
// tests) asks for `exclusive`, and is refused while another file holds a lease, and vice versa.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultLabDir, labDown, labStatus, labUp, readLabState, type LabStatus } from '../lab.ts';
import { processAlive } from '../sh.ts';

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

export async function useLab(options: { agent?: boolean; exclusive?: boolean; topologyFile?: string; progress?: (line: string) => void } = {}): Promise<LabLease> {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, mounts, routes)');
  const dir = defaultLabDir();
  const wantAgent = options.agent ?? true;
  const others = leases(dir).filter((l) => l.pid !== process.pid);
  if (options.exclusive && others.length > 0) {
    throw new Error(`this test needs the lab to itself, and pid(s) ${others.map((l) => l.pid).join(', ')} are using it; run it after them`);
  }
  const exclusiveOther = others.find((l) => l.exclusive);
  if (exclusiveOther) throw new Error(`pid ${exclusiveOther.pid} is using the lab exclusively (the scenario tests switch its routing); run this after it`);
  const state = readLabState(dir);
  if (state && state.agents !== wantAgent) {
    throw new Error(
      `the lab is up ${state.agents ? 'with' : 'without'} agents and this test wants it ${wantAgent ? 'with' : 'without (--no-agent)'}; ` +
        (others.length > 0 ? `pid(s) ${others.map((l) => l.pid).join(', ')} are using it` : 'take it down first: npm run lab -- down'),
    );
  }
  mkdirSync(path.join(dir, 'leases'), { recursive: true });
  const leaseFile = path.join(dir, 'leases', `${process.pid}`);
  writeFileSync(leaseFile, JSON.stringify({ pid: process.pid, exclusive: options.exclusive ?? false }));
  const startedHere = !state;
  try {
    const progress = options.progress ?? (() => {});
    // Idempotent: a lab that is up is kept; missing parts are made.
    await labUp({ agent: wantAgent, progress, ...(options.topologyFile ? { topologyFile: options.topologyFile } : {}) });
    if (startedHere) writeFileSync(path.join(dir, 'started-by-fixture'), String(process.pid));
  } catch (error) {
    rmSync(leaseFile, { force: true });
    if (startedHere) await labDown({ progress: () => {} });
    throw error;
  }
  return {
    status: await labStatus(dir),
    stateDir: dir,
    async release() {
      rmSync(leaseFile, { force: true });
      const marker = path.join(dir, 'started-by-fixture');
      if (leases(dir).length === 0 && existsSync(marker)) {
        rmSync(marker, { force: true });
        await labDown({ progress: () => {} });
      }
    },
  };
}
