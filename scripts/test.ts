// `npm test`: lint and type-check, then every test tier. `npm run test:unit` and friends run one.
// The integration and e2e tiers need root (network namespaces, daemons, apt-get); run without it,
// this says so and fails rather than skipping them silently.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { debianPackages, type DebianPackage } from './debian-packages.ts';

type Tier = 'unit' | 'integration' | 'e2e';
const allTiers: Tier[] = ['unit', 'integration', 'e2e'];
const needsRoot: Record<Tier, string | undefined> = {
  unit: undefined,
  integration: 'network namespaces, real BGP daemons, sshd and a kube-apiserver',
  e2e: 'the lab (network namespaces) that the browser tests drive',
};

function run(title: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  console.log(`\n== ${title}: ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  return result.status === 0;
}

function installed(pkg: DebianPackage): boolean {
  if (pkg.provides.startsWith('/')) return existsSync(pkg.provides);
  return spawnSync('sh', ['-c', `command -v ${pkg.provides}`], { stdio: 'ignore' }).status === 0;
}

/** Installs the Debian packages the chosen tiers need; returns false (having said why) when it cannot. */
function ensureDebianPackages(tiers: Tier[]): boolean {
  const missing = debianPackages.filter((pkg) => pkg.tiers.some((t) => tiers.includes(t as Tier)) && !installed(pkg));
  if (missing.length === 0) return true;
  const list = missing.map((pkg) => `  ${pkg.name.padEnd(16)} ${pkg.why}`).join('\n');
  if (!existsSync('/usr/bin/apt-get')) {
    console.error(`These packages are missing and this is not a Debian system with apt-get; install their equivalents:\n${list}`);
    return false;
  }
  console.log(`Installing the Debian packages the tests need:\n${list}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const names = missing.map((pkg) => pkg.name);
  // Installing bird2, frr or openssh-server would start their daemons in this machine's own
  // namespace; the tests start their own, in namespaces of their own. policy-rc.d says no.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# Written by Gingham\'s npm test while it installs packages.\nexit 101\n', { mode: 0o755 });
  try {
    return (
      run('apt-get update', 'apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=600'], env) &&
      run('apt-get install', 'apt-get', ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', ...names], env)
    );
  } finally {
    if (ownPolicy) rmSync(policy);
  }
}

function main(): number {
  const requested = process.argv.slice(2) as Tier[];
  const tiers = requested.length > 0 ? requested : allTiers;
  const unknown = tiers.filter((t) => !allTiers.includes(t));
  if (unknown.length > 0) {
    console.error(`Unknown test tier ${unknown.join(', ')}: the tiers are ${allTiers.join(', ')}.`);
    return 2;
  }
  const root = process.getuid?.() === 0;
  const blocked = tiers.filter((t) => needsRoot[t] && !root);
  const runnable = tiers.filter((t) => !blocked.includes(t));
  const failures: string[] = [];

  if (requested.length === 0) {
    if (!run('lint', 'npx', ['eslint', '--max-warnings', '0', '.'])) failures.push('lint');
    if (!run('typecheck', 'npx', ['tsc', '-b', 'tsconfig.json'])) failures.push('typecheck');
  }
  const privileged = runnable.filter((t) => needsRoot[t]);
  if (privileged.length > 0 && !ensureDebianPackages(privileged)) {
    failures.push('Debian packages');
  } else {
    // The control plane is built from Go sources once (minutes), then cached; do it here, with
    // progress, rather than inside a test's timeout.
    if (privileged.length > 0 && !run('control-plane binaries', 'npx', ['tsx', 'lab/controlplane/cli.ts', 'build'])) {
      failures.push('control-plane build');
    }
    if (runnable.includes('integration') && !run('calicoctl (test client)', 'npx', ['tsx', 'lab/calicoctl/cli.ts', 'build'])) {
      failures.push('calicoctl build');
    }
    for (const tier of runnable) {
      // An empty tier passes: the issues that bring its tests have not all landed yet.
      if (!run(`${tier} tests`, 'npx', ['vitest', 'run', '--project', tier, '--passWithNoTests'])) failures.push(tier);
    }
  }

  for (const tier of blocked) {
    console.error(`\nThe ${tier} tier needs root (${needsRoot[tier]}). Run it as root: sudo npm test`);
    failures.push(`${tier} (needs root)`);
  }
  if (failures.length > 0) {
    console.error(`\nFAILED: ${failures.join(', ')}`);
    return 1;
  }
  console.log(`\nAll passed: ${requested.length === 0 ? 'lint, typecheck, ' : ''}${tiers.join(', ')}.`);
  return 0;
}

process.exit(main());
