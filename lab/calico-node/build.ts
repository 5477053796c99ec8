// Project Calico's calico-node v3.31.0 for the lab's Calico nodes, made on first use and cached
// (~/.cache/gingham/calico-node/v3.31.0/) as the control plane and calicoctl are:
// - bin/calico-node: the binary Calico's DaemonSet runs (startup, allocate-tunnel-addrs, Felix,
//   confd), built from the Go module proxy with module/ (calico's module pinned at v3.31.0's
//   pseudo-version, calico's replace lines and a full go.sum; -mod=readonly guards the build, as
//   the checksum database has no record of Calico's pseudo-versions);
// - bin/calico, bin/calico-ipam: Calico's CNI plugin and IPAM plugin (one binary, chosen by its name);
// - confd/: confd's templates from the same module, adapted to run outside Calico's image (below);
// - bird/: BIRD 1.6.8, the BIRD generation confd's templates are written for, from Debian's `bird`
//   package, unpacked rather than installed (Debian's bird2, which the BGP tests run, conflicts with it).
//
// cgo is off: with it, Felix's BPF code needs Calico's pinned libbpf source tree (a git submodule,
// not in the module zip; Debian 12's libbpf 1.1 is too old). The cgo-less binary has libbpf stubs
// that panic when called, so the lab runs Felix with BPF off (see node-install.ts).
// Measured here (2 cores, shared): 5 min 51 s from nothing (empty Go module and build caches, 144
// modules downloaded, at nice 19 beside others' work), 27 s with a warm Go build cache; 4 GB of memory at the peak.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withBuildLock, type Progress } from '../controlplane/build.ts';
import { cacheDir } from '../controlplane/cache.ts';
import { run } from '../sh.ts';

export const calicoNodeVersion = 'v3.31.0';
const calicoCommit = 'b1f3c43f84370504e218eb5be8a34c81348f866a';
const calicoModule = 'github.com/projectcalico/calico';
/** The calico module's pseudo-version for that commit (module/go.mod requires it). */
const calicoModuleVersion = 'v0.0.0-20251021213802-b1f3c43f8437';
const moduleDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'module');

export interface CalicoNodeBuild {
  dir: string;
  calicoNode: string;
  /** Calico's CNI plugin; `calico-ipam` beside it is the same binary. */
  cniPlugin: string;
  /** confd's conf.d/ and templates/, to be copied to a node's /etc/calico/confd. */
  confd: string;
  /** The folder holding BIRD 1.6's `bird` (first on the PATH of a Calico node's processes). */
  birdBin: string;
}

export function calicoNodeBuild(): CalicoNodeBuild {
  const dir = cacheDir('calico-node', calicoNodeVersion);
  return {
    dir,
    calicoNode: path.join(dir, 'bin', 'calico-node'),
    cniPlugin: path.join(dir, 'bin', 'calico'),
    confd: path.join(dir, 'confd'),
    birdBin: path.join(dir, 'bird', 'usr', 'sbin'),
  };
}

const complete = (build: CalicoNodeBuild) =>
  [build.calicoNode, build.cniPlugin, `${build.cniPlugin}-ipam`, path.join(build.confd, 'templates'), path.join(build.birdBin, 'bird')].every((file) => existsSync(file));

function findGo(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/local/go/bin', '/usr/lib/go/bin']) {
    if (dir && existsSync(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  return undefined;
}

const goEnv = () => ({ ...process.env, GONOSUMDB: 'github.com/projectcalico', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false -mod=readonly', CGO_ENABLED: '0' });

/**
 * `go build -v`, with a progress line every 20 s: the packages compiled so far (go -v names each
 * as it is built; calico-node has about 900) and the elapsed time.
 */
function goBuild(go: string, what: string, args: string[], cwd: string, progress: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(go, ['build', '-v', ...args], { cwd, env: goEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let packages = 0;
    let downloads = 0;
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      for (const line of text.split('\n')) {
        if (line.startsWith('go: downloading ')) downloads++;
        else if (line.trim() && !line.startsWith('#')) packages++;
      }
      stderr = (stderr + text).slice(-16_000);
    });
    const ticker = setInterval(
      () => progress(`  ... building ${what}: ${Math.round((Date.now() - started) / 1000)} s, ${downloads > 0 ? `${downloads} modules downloaded, ` : ''}${packages} packages compiled`),
      20_000,
    );
    child.on('error', (error) => {
      clearInterval(ticker);
      reject(error);
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new Error(`go build ${what} failed (exit ${code}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}

/**
 * confd's templates as Calico's image has them, with what that image supplies otherwise:
 * - reload_cmd: the image reloads BIRD with runit (`sv hup bird`); here a SIGHUP to the pid BIRD writes.
 * - `krt_tunnel = "...";` is an attribute of Calico's fork of BIRD (it sends a route through
 *   tunl0 for IP-in-IP); upstream BIRD 1.6.8 refuses the whole file ("You may set only variables").
 *   It becomes `accept;`: no route is sent through tunl0, which this kernel cannot make anyway (no ipip module).
 * - the IPv6 templates go: the lab is IPv4 only, and BIRD 6 is not run.
 */
export async function adaptConfd(source: string, target: string): Promise<void> {
  await rm(target, { recursive: true, force: true });
  for (const sub of ['conf.d', 'templates']) {
    await mkdir(path.join(target, sub), { recursive: true });
    for (const name of readdirSync(path.join(source, sub))) {
      if (name.startsWith('bird6') || name === 'README.md') continue;
      let text = await readFile(path.join(source, sub, name), 'utf8');
      if (sub === 'conf.d') {
        if (!text.includes('sv hup bird')) throw new Error(`${name}: confd's reload command is not \`sv hup bird\` any more; adapt lab/calico-node/build.ts`);
        text = text.replaceAll('sv hup bird', 'kill -HUP $(cat /var/run/calico/bird.pid)');
      } else {
        text = text.replace(/krt_tunnel = "[^"]*";/g, 'accept;');
      }
      await writeFile(path.join(target, sub, name), text);
    }
  }
}

async function buildBinaries(go: string, build: CalicoNodeBuild, progress: Progress): Promise<string> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'gingham-calico-node-'));
  try {
    for (const file of ['go.mod', 'go.sum', 'tools.go']) await copyFile(path.join(moduleDir, file), path.join(work, file));
    await mkdir(path.dirname(build.calicoNode), { recursive: true });
    const ldflags = [
      '-s -w',
      `-X github.com/projectcalico/calico/pkg/buildinfo.Version=${calicoNodeVersion}`,
      `-X github.com/projectcalico/calico/pkg/buildinfo.GitRevision=${calicoCommit}`,
    ].join(' ');
    if (!existsSync(build.calicoNode)) {
      progress(`Building calico-node ${calicoNodeVersion} from the Go module proxy (first use only: about 6 minutes from nothing, under a minute with a warm Go cache) ...`);
      await goBuild(go, 'calico-node', ['-trimpath', '-o', `${build.calicoNode}.partial`, '-ldflags', ldflags, `${calicoModule}/node/cmd/calico-node`], work, progress);
      await rename(`${build.calicoNode}.partial`, build.calicoNode);
    }
    if (!existsSync(build.cniPlugin)) {
      progress(`Building Calico's CNI plugin ${calicoNodeVersion} ...`);
      await goBuild(go, "Calico's CNI plugin", ['-trimpath', '-o', `${build.cniPlugin}.partial`, '-ldflags', ldflags, `${calicoModule}/cni-plugin/cmd/calico`], work, progress);
      await rename(`${build.cniPlugin}.partial`, build.cniPlugin);
    }
    await copyFile(build.cniPlugin, `${build.cniPlugin}-ipam.partial`);
    await rename(`${build.cniPlugin}-ipam.partial`, `${build.cniPlugin}-ipam`);
    // The module the binaries came from is in the module cache now; its confd templates are what this calico-node renders.
    const info = JSON.parse(await run(go, ['mod', 'download', '-json', `${calicoModule}@${calicoModuleVersion}`], { env: goEnv(), timeoutMs: 600_000 })) as { Dir?: string };
    if (!info.Dir) throw new Error(`go mod download ${calicoModule}@${calicoModuleVersion} gave no folder`);
    return path.join(info.Dir, 'confd', 'etc', 'calico', 'confd');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** BIRD 1.6.8 from Debian's archive, unpacked into the cache (apt-get download needs no install). */
async function unpackBird(build: CalicoNodeBuild, progress: Progress): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'gingham-bird16-'));
  try {
    progress("Fetching BIRD 1.6.8 (Debian's bird package, unpacked into the cache, not installed) ...");
    // apt-get download writes into the current folder.
    await run('sh', ['-c', 'cd "$1" && exec apt-get download bird', 'sh', work], { timeoutMs: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).catch((error: Error) => {
      throw new Error(`${error.message}\nBIRD 1.6 comes from Debian's archive: run \`apt-get update\` and try again`);
    });
    const deb = readdirSync(work).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download bird left no .deb');
    const target = path.join(build.dir, 'bird');
    await rm(target, { recursive: true, force: true });
    await run('dpkg-deb', ['-x', path.join(work, deb), `${target}.partial`]);
    await rename(`${target}.partial`, target);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The cached calico-node, CNI plugin, confd templates and BIRD 1.6, made first where missing. */
export async function ensureCalicoNode(progress: Progress = (m) => console.error(m)): Promise<CalicoNodeBuild> {
  const build = calicoNodeBuild();
  if (complete(build)) return build;
  await mkdir(build.dir, { recursive: true });
  return withBuildLock(`${build.dir}.lock`, progress, async () => {
    if (complete(build)) return build; // made by the process we waited for
    const go = findGo();
    if (!go) throw new Error(`calico-node is built from source and needs Go 1.24.9 or later: install Go (https://go.dev/dl/) and run again`);
    const started = Date.now();
    const confdSource = await buildBinaries(go, build, progress);
    await adaptConfd(confdSource, build.confd);
    if (!existsSync(path.join(build.birdBin, 'bird'))) await unpackBird(build, progress);
    progress(`calico-node ${calicoNodeVersion} ready in ${build.dir} (${Math.round((Date.now() - started) / 1000)} s)`);
    return build;
  });
}
