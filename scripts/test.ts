// `npm test`: lint and type-check, then every test tier. `npm run test:unit` and friends run one.
// The integration and e2e tiers need root (network namespaces, daemons, apt-get); run without it,
// this says so and fails rather than skipping them silently.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failedTestsIn } from './test-failures.ts';

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

/**
 * Installs the Debian packages the chosen tiers (and the lab they use) need, from the one declared
 * list (shared/host/debian-packages.ts), by `npm run lab -- packages`, which says which and why.
 */
function ensureDebianPackages(tiers: Tier[]): boolean {
  return run('Debian packages', 'npx', ['tsx', 'lab/cli.ts', 'packages', '--for', 'lab', ...tiers]);
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
  const failedTests: string[] = [];

  if (requested.length === 0) {
    if (!run('lint', 'npx', ['eslint', '--max-warnings', '0', '.'])) failures.push('lint');
    if (!run('unused files and exports', 'npx', ['knip', '--no-config-hints'])) failures.push('unused (knip)');
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
    // The mixed lab's calico-node (minutes the first time): built here, not under the lab's lock.
    if (runnable.includes('integration') && !run('calico-node (the mixed lab)', 'npx', ['tsx', 'lab/calico-node/cli.ts', 'build'])) {
      failures.push('calico-node build');
    }
    for (const tier of runnable) {
      const report = join(tmpdir(), `gingham-test-${tier}.json`);
      rmSync(report, { force: true });
      // An empty tier passes: the issues that bring its tests have not all landed yet.
      const args = ['vitest', 'run', '--project', tier, '--passWithNoTests', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
      if (!run(`${tier} tests`, 'npx', args)) {
        failures.push(tier);
        failedTests.push(...failedTestsIn(report, process.cwd()).map((line) => `${tier}: ${line}`));
      }
    }
  }

  for (const tier of blocked) {
    console.error(`\nThe ${tier} tier needs root (${needsRoot[tier]}). Run it as root: sudo npm test`);
    failures.push(`${tier} (needs root)`);
  }
  if (failures.length > 0) {
    if (failedTests.length > 0) console.error(`\nFailed tests:\n${failedTests.map((line) => `  ${line}`).join('\n')}`);
    console.error(`\nFAILED: ${failures.join(', ')}`);
    return 1;
  }
  console.log(`\nAll passed: ${requested.length === 0 ? 'lint, typecheck, ' : ''}${tiers.join(', ')}.`);
  return 0;
}

process.exit(main());
