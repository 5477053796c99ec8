// Installs the Debian packages that the lab or the test tiers need and this machine lacks, from
// the one declared list (shared/host/debian-packages.ts), saying which and why, with apt-get's own
// progress. `npm start`, `npm run lab -- up` and `npm test` all come here (the last two through
// `npm run lab -- packages`), so a fresh Debian machine needs nothing installed by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { packagesFor, type DebianPackage, type PackageUse } from '../../shared/host/debian-packages.ts';
import { findProgram, systemPath } from './preflight.ts';

export interface EnsureOptions {
  /** Where programs are looked for (the system's program folders by default). */
  searchPath?: string;
  /** Where apt-get is expected; a machine without it is told what to install by hand. */
  aptGet?: string;
  progress?: (line: string) => void;
  /** Where Debian's invoke-rc.d looks for the policy that keeps installed daemons from starting. */
  policyFile?: string;
}

/** The packages `uses` need whose program is not installed. */
export function missingPackages(uses: readonly PackageUse[], searchPath = systemPath): DebianPackage[] {
  return packagesFor(uses).filter((pkg) => !findProgram(pkg.provides, searchPath));
}

/** "the lab needs", "the lab and the e2e tests need". */
const whoNeeds = (uses: readonly PackageUse[]) =>
  `${uses.map((use) => (use === 'lab' ? 'the lab' : `the ${use} tests`)).join(' and ')} ${uses.length === 1 && uses[0] === 'lab' ? 'needs' : 'need'}`;

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

function listing(missing: DebianPackage[]): string {
  return missing.map((pkg) => `  ${pkg.name.padEnd(15)} ${pkg.provides.padEnd(11)} ${pkg.why}`).join('\n');
}

/**
 * Installs what `uses` lack. Returns true when nothing is missing afterwards; false, having said
 * what to install by hand and how, when it cannot (not root, no apt-get, apt-get failed).
 */
export function ensureDebianPackages(uses: readonly PackageUse[], options: EnsureOptions = {}): boolean {
  const progress = options.progress ?? ((line: string) => console.error(line));
  const searchPath = options.searchPath ?? systemPath;
  const missing = missingPackages(uses, searchPath);
  if (missing.length === 0) return true;
  const names = [...new Set(missing.map((pkg) => pkg.name))];
  const aptGet = options.aptGet ?? findProgram('apt-get', searchPath);
  if (!aptGet || !existsSync(aptGet)) {
    progress(`${capitalized(whoNeeds(uses))} programs that are not installed, and this machine has no apt-get (not Debian?):\n${listing(missing)}\nInstall these packages (or your system's equivalents) with its package manager, then run the command again.`);
    return false;
  }
  if (process.getuid?.() !== 0) {
    progress(`${capitalized(whoNeeds(uses))} these Debian packages, which only root can install:\n${listing(missing)}\nRun: sudo apt-get install ${names.join(' ')}`);
    return false;
  }
  progress(`Installing the Debian packages ${whoNeeds(uses)} (${names.length}):\n${listing(missing)}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Installing bird2, frr or openssh-server would start their daemons in this machine's own
  // namespace; the lab and the tests start their own, in namespaces of their own. policy-rc.d says no.
  const policy = options.policyFile ?? '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\n# Written by Gingham while it installs packages.\nexit 101\n", { mode: 0o755 });
  const apt = (title: string, args: string[]) => {
    const started = Date.now();
    progress(`== ${title}: apt-get ${args.join(' ')}`);
    const result = spawnSync(aptGet, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    progress(`== ${title}: ${result.status === 0 ? 'done' : `failed (exit ${result.status ?? result.signal})`} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result.status === 0;
  };
  try {
    const lock = ['-o', 'DPkg::Lock::Timeout=600'];
    if (!apt('apt-get update', ['update', '-q', ...lock]) || !apt('apt-get install', ['install', '-y', '-q', '--no-install-recommends', ...lock, ...names])) {
      progress(`Installing ${names.join(' ')} failed (see apt-get's words above): fix that (network access to Debian's mirrors, a held dpkg lock), then run the command again.`);
      return false;
    }
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  const still = missingPackages(uses, searchPath);
  if (still.length > 0) {
    progress(`apt-get finished, yet these programs are still missing:\n${listing(still)}`);
    return false;
  }
  return true;
}
