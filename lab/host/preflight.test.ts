// lab up on a machine that lacks what the lab runs: before anything is made, every missing program
// is named with its Debian package, why the lab needs it, and the command that installs it (the
// fresh-machine failure was "/usr/sbin/sshd: not found" in a node's sshd.log, after the fabric
// and namespaces were already made). Also: every program a lab step runs is in the declared list.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { debianPackages, packageProviding } from '../../shared/host/debian-packages.ts';
import { labUp } from '../lab.ts';
import { ensureDebianPackages } from './packages.ts';
import { allLabSteps, findProgram, labSteps, MissingProgramsError, missingPrograms, preflight, systemPath } from './preflight.ts';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A program folder holding only `programs` (links to this machine's, or empty scripts where it has none). */
function binWith(programs: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gingham-preflight-'));
  made.push(dir);
  for (const program of programs) symlinkSync(findProgram(program, `${systemPath}:${process.env.PATH}`) ?? '/bin/true', path.join(dir, program));
  return dir;
}

describe('lab preflight', () => {
  it('names every program the lab runs that is missing, with its package, why, and the install command', () => {
    const bin = binWith(['ip', 'bridge', 'ss', 'sysctl', 'unshare', 'mount', 'ssh-keygen', 'ssh', 'openssl', 'flock', 'nsenter', 'ping', 'curl', 'python3']);
    let caught: unknown;
    try {
      preflight(allLabSteps, bin);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MissingProgramsError);
    const error = caught as MissingProgramsError;
    expect(error.missing.map((m) => m.program).sort()).toEqual(['nft', 'sshd', 'tcpdump']);
    const lines = error.message.split('\n');
    expect(lines[0]).toBe(`the lab needs programs that are not installed (looked in ${bin}):`);
    expect(lines.find((l) => l.trim().startsWith('sshd'))).toMatch(/from the Debian package openssh-server: real sshd on the lab nodes.*\(for the nodes \(namespaces, private mounts, sshd\)\)/);
    expect(lines.find((l) => l.trim().startsWith('nft'))).toMatch(/from the Debian package nftables: .*\(for the fabric .*; the agent on every node/);
    expect(lines.find((l) => l.trim().startsWith('tcpdump'))).toMatch(/from the Debian package tcpdump: the console's captures/);
    expect(lines.at(-1)).toBe('Install them with: apt-get install nftables openssh-server tcpdump  (`npm start` and `npm run lab -- up` do this themselves where apt-get is), then run the command again.');
  });

  it('one step checks only its own programs', () => {
    const bin = binWith(['ip', 'sysctl', 'nft']);
    expect(() => preflight(['fabric'], bin)).not.toThrow();
    expect(missingPrograms(['pods'], bin).map((m) => m.program)).toEqual(['nsenter', 'python3']);
  });

  it('lab up refuses before it makes anything: no state folder, no lock, no namespace', async () => {
    const bin = binWith(['ip']);
    const stateDir = path.join(mkdtempSync(path.join(tmpdir(), 'gingham-preflight-state-')), 'lab');
    made.push(path.dirname(stateDir));
    const up = labUp({ stateDir, searchPath: bin, topologyFile: '/nonexistent/topology.yaml', progress: () => {} });
    await expect(up).rejects.toThrow(MissingProgramsError);
    await expect(up).rejects.toThrow(/sshd +from the Debian package openssh-server/);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('without apt-get, says which packages to install and why, and installs nothing', () => {
    const bin = binWith(['ip', 'bridge', 'ss']);
    const said: string[] = [];
    expect(ensureDebianPackages(['lab'], { searchPath: bin, progress: (line) => said.push(line) })).toBe(false);
    const text = said.join('\n');
    expect(text).toMatch(/^The lab needs programs that are not installed, and this machine has no apt-get \(not Debian\?\):/);
    expect(text).toMatch(/openssh-server +sshd +real sshd on the lab nodes/);
    expect(text).toMatch(/procps +sysctl/);
    expect(text).not.toMatch(/iproute2/);
    expect(text).toMatch(/Install these packages \(or your system's equivalents\)/);
  });

  // Installing is for root; run as another user, ensureDebianPackages says `sudo apt-get install ...` instead.
  it.skipIf(process.getuid?.() !== 0)('with apt-get, updates the lists, installs what is missing (no daemon started), says which and why, then finds them', () => {
    // With what the lab's Calico nodes and the doctor need (iptables, ipset, dpkg-deb, ethtool) there: the three below are the ones missing.
    const bin = binWith(['ip', 'bridge', 'ss', 'sysctl', 'unshare', 'mount', 'ssh-keygen', 'ssh', 'openssl', 'flock', 'nsenter', 'ping', 'curl', 'python3', 'iptables-nft-save', 'ipset', 'dpkg-deb', 'ethtool']);
    const log = path.join(bin, 'apt.log');
    const policy = path.join(bin, 'policy-rc.d');
    // A stand-in apt-get: records its arguments and whether the policy was in place, and on install
    // provides the programs of the packages it was asked for.
    writeFileSync(
      path.join(bin, 'apt-get'),
      `#!/bin/sh\necho "$* policy=$(cat ${policy} 2>/dev/null | tail -1)" >> ${log}\n` +
        `case "$1" in install) for p in "$@"; do case "$p" in nftables) t=nft;; openssh-server) t=sshd;; tcpdump) t=tcpdump;; *) t=;; esac; [ -n "$t" ] && printf '#!/bin/sh\\n' > ${bin}/$t && chmod +x ${bin}/$t; done;; esac\n`,
      { mode: 0o755 },
    );
    const said: string[] = [];
    expect(ensureDebianPackages(['lab'], { searchPath: bin, policyFile: policy, progress: (line) => said.push(line) })).toBe(true);
    const text = said.join('\n');
    expect(text).toMatch(/^Installing the Debian packages the lab needs \(3\):\n {2}nftables +nft +the agent's NAT/);
    expect(text).toMatch(/openssh-server +sshd +real sshd on the lab nodes/);
    expect(text).toMatch(/== apt-get install: done \(\d+\.\d s\)/);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls).toEqual([
      'update -q -o DPkg::Lock::Timeout=600 policy=exit 101',
      'install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 nftables openssh-server tcpdump policy=exit 101',
    ]);
    expect(existsSync(policy)).toBe(false);
    expect(missingPrograms(allLabSteps, bin)).toEqual([]);
  });

  it('every program a lab step runs comes from a package in the declared list', () => {
    const programs = [...new Set(Object.values(labSteps).flatMap((s) => [...s.programs]))];
    expect(programs.filter((p) => !packageProviding(p))).toEqual([]);
    for (const p of programs) expect(packageProviding(p)!.uses).toContain('lab');
    // And the list names no program twice (packageProviding would find only the first).
    const provided = debianPackages.map((p) => p.provides);
    expect(provided.length).toBe(new Set(provided).size);
  });

  it('finds an absolute path only where it is, and a name only in the folders given', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'gingham-preflight-'));
    made.push(empty);
    mkdirSync(path.join(empty, 'sshd')); // a folder is not a program
    expect(findProgram('sshd', empty)).toBeUndefined();
    expect(findProgram('/bin/sh', empty)).toBe('/bin/sh');
  });
});
