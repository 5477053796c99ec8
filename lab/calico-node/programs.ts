// What the lab's Calico nodes run beside calico-node itself, checked before the lab installs it:
// a missing program is named with its Debian package, as lab/host/preflight.ts does for the lab's
// own steps (kept apart from those so that a lab without Calico nodes does not need them).
import { packageProviding } from '../../shared/host/debian-packages.ts';
import { findProgram, systemPath } from '../host/preflight.ts';

/** Felix's (iptables, ipset: it runs them at start even in nftables mode), and what fetches and unpacks BIRD 1.6. */
export const calicoNodePrograms = ['iptables-nft-save', 'ipset', 'apt-get', 'dpkg-deb', 'curl'] as const;

export function checkCalicoNodePrograms(searchPath = systemPath): void {
  const missing = calicoNodePrograms.filter((program) => !findProgram(program, searchPath));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((program) => packageProviding(program)?.name ?? program))];
  throw new Error(
    `the lab's Calico nodes need ${missing.join(', ')} (looked in ${searchPath}): ` +
      `install ${packages.join(' ')} (apt-get install ${packages.join(' ')}, or \`npm run lab -- packages\`), then run the command again`,
  );
}
