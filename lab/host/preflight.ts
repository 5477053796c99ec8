// What each lab step runs, checked before the step starts: a missing program is named with the
// Debian package that provides it and the command that installs it, instead of surfacing later as
// a child's log line ("/usr/sbin/sshd: not found" in a node's sshd.log). The programs are looked up
// in the system's program folders, where the lab's node processes (sshd's sessions, the agent, the
// CNI plugin) find them too, whatever the invoking shell's PATH holds.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { packageProviding, type DebianPackage } from '../../shared/host/debian-packages.ts';

/** The folders the lab's processes run programs from (the PATH the CNI calls get, as a runtime's). */
export const systemPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The lab's steps, in `lab up`'s order, and the programs each runs. */
export const labSteps = {
  fabric: { title: 'the fabric (bridges, VPC router, admin link)', programs: ['ip', 'sysctl', 'nft'] },
  nodes: { title: 'the nodes (namespaces, private mounts, sshd)', programs: ['ip', 'sysctl', 'unshare', 'mount', 'sshd', '/usr/lib/openssh/sftp-server', 'ssh-keygen'] },
  controlplane: { title: 'the control plane (etcd, kube-apiserver)', programs: ['ip', 'openssl'] },
  agents: { title: 'the agent on every node (installed over SSH; it programs routes and NAT)', programs: ['ssh', 'ip', 'nft', 'flock', 'nsenter'] },
  pods: { title: 'the pods (CNI ADD, an HTTP server in each)', programs: ['ip', 'sysctl', 'nsenter', 'python3'] },
  console: { title: "the console on the lab (connectivity matrix, captures)", programs: ['ping', 'curl', 'tcpdump'] },
} as const satisfies Record<string, { title: string; programs: readonly string[] }>;

export type LabStep = keyof typeof labSteps;
export const allLabSteps = Object.keys(labSteps) as LabStep[];

/** The executable file `program` names (a name searched in `searchPath`, or an absolute path), if any. */
export function findProgram(program: string, searchPath = systemPath): string | undefined {
  const candidates = path.isAbsolute(program) ? [program] : searchPath.split(':').filter(Boolean).map((dir) => path.join(dir, program));
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface MissingProgram {
  program: string;
  /** The steps that run it. */
  steps: LabStep[];
  /** The Debian package that provides it (every program the lab runs is in the declared list). */
  package?: DebianPackage;
}

/** Thrown before a step starts when a program it runs is not installed. */
export class MissingProgramsError extends Error {
  override name = 'MissingProgramsError';
  constructor(
    readonly missing: MissingProgram[],
    readonly searchPath: string,
  ) {
    super(missingMessage(missing, searchPath));
  }
}

function missingMessage(missing: MissingProgram[], searchPath: string): string {
  const names = [...new Set(missing.flatMap((m) => (m.package ? [m.package.name] : [])))];
  const lines = missing.map((m) => {
    const from = m.package ? `from the Debian package ${m.package.name}` : 'not in the declared package list';
    const why = m.package ? `: ${m.package.why}` : '';
    return `  ${m.program.padEnd(11)} ${from}${why} (for ${m.steps.map((s) => labSteps[s].title).join('; ')})`;
  });
  return [
    `the lab needs ${missing.length === 1 ? 'a program that is' : 'programs that are'} not installed (looked in ${searchPath}):`,
    ...lines,
    names.length > 0
      ? `Install ${names.length === 1 ? 'it' : 'them'} with: apt-get install ${names.join(' ')}  (\`npm start\` and \`npm run lab -- up\` do this themselves where apt-get is), then run the command again.`
      : 'Install them with your system’s package manager, then run the command again.',
  ].join('\n');
}

/** The programs `steps` run that are missing from `searchPath`. */
export function missingPrograms(steps: readonly LabStep[] = allLabSteps, searchPath = systemPath): MissingProgram[] {
  const byProgram = new Map<string, MissingProgram>();
  for (const step of steps) {
    for (const program of labSteps[step].programs) {
      if (findProgram(program, searchPath)) continue;
      const entry = byProgram.get(program) ?? { program, steps: [], ...(packageProviding(program) ? { package: packageProviding(program)! } : {}) };
      entry.steps.push(step);
      byProgram.set(program, entry);
    }
  }
  return [...byProgram.values()];
}

/** Throws a MissingProgramsError naming every missing program of `steps` and its package. */
export function preflight(steps: readonly LabStep[] = allLabSteps, searchPath = systemPath): void {
  const missing = missingPrograms(steps, searchPath);
  if (missing.length > 0) throw new MissingProgramsError(missing, searchPath);
}

/** The absolute path of a program a step runs, checked (throws as preflight does when it is missing). */
export function programPath(step: LabStep, program: (typeof labSteps)[LabStep]['programs'][number], searchPath = systemPath): string {
  const found = findProgram(program, searchPath);
  if (!found) throw new MissingProgramsError([{ program, steps: [step], ...(packageProviding(program) ? { package: packageProviding(program)! } : {}) }], searchPath);
  return found;
}
