// Builds etcd, kube-apiserver and kubectl from the Go module proxy, as controller-runtime's
// envtest obtains its binaries, and caches them so that only the first run pays (about four
// minutes on two cores for kube-apiserver).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir } from './cache.ts';
import { etcdVersion, kubernetesVersion, stagingVersion } from './versions.ts';

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
}

export type Progress = (message: string) => void;

export function binariesDir(): string {
  return cacheDir('controlplane', `kubernetes-${kubernetesVersion}-etcd-${etcdVersion}`, 'bin');
}

export function cachedBinaries(): ControlPlaneBinaries | undefined {
  const dir = binariesDir();
  const binaries = { etcd: path.join(dir, 'etcd'), kubeApiserver: path.join(dir, 'kube-apiserver'), kubectl: path.join(dir, 'kubectl') };
  return Object.values(binaries).every((file) => existsSync(file)) ? binaries : undefined;
}

function findGo(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/local/go/bin', '/usr/lib/go/bin']) {
    if (dir && existsSync(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  return undefined;
}

function run(command: string, args: string[], cwd: string, progress: Progress): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, GOFLAGS: '-mod=mod' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
    });
    const ticker = setInterval(() => progress(`  ... still running: ${path.basename(command)} ${args.slice(0, 2).join(' ')}`), 30_000);
    child.on('error', (error) => {
      clearInterval(ticker);
      reject(error);
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${path.basename(command)} ${args.join(' ')} failed (exit ${code}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}

const versionFlags = (module: string) => {
  const [major, minor] = kubernetesVersion.slice(1).split('.');
  return [`-X ${module}.gitVersion=${kubernetesVersion}`, `-X ${module}.gitMajor=${major}`, `-X ${module}.gitMinor=${minor}`, `-X ${module}.gitTreeState=clean`];
};

/**
 * kube-apiserver and kubectl: k8s.io/kubernetes cannot be `go install`ed, because its go.mod
 * points the staging modules at ./staging. A wrapper module replaces each with its published tag.
 */
async function buildKubernetes(go: string, workDir: string, outDir: string, progress: Progress): Promise<void> {
  await mkdir(workDir, { recursive: true });
  progress(`Reading the module list of k8s.io/kubernetes ${kubernetesVersion} ...`);
  const info = JSON.parse(await run(go, ['mod', 'download', '-json', `k8s.io/kubernetes@${kubernetesVersion}`], workDir, progress)) as { GoMod: string };
  const staging = [...(await readFile(info.GoMod, 'utf8')).matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map((m) => m[1]!);
  const goMod = [
    'module gingham.local/kubernetes-build',
    '',
    'go 1.24',
    '',
    `require k8s.io/kubernetes ${kubernetesVersion}`,
    '',
    ...staging.map((module) => `replace ${module} => ${module} ${stagingVersion()}`),
    '',
  ].join('\n');
  await writeFile(path.join(workDir, 'go.mod'), goMod);
  progress(`Fetching kube-apiserver and kubectl sources (${staging.length} staging modules) ...`);
  await run(go, ['get', `k8s.io/kubernetes/cmd/kube-apiserver@${kubernetesVersion}`, `k8s.io/kubernetes/cmd/kubectl@${kubernetesVersion}`], workDir, progress);
  // Without the version flags the server reports v0.0.0-master+$Format:%H$, which kubectl refuses.
  const ldflags = ['-s', '-w', ...versionFlags('k8s.io/component-base/version'), ...versionFlags('k8s.io/client-go/pkg/version')].join(' ');
  for (const [name, pkg] of [
    ['kube-apiserver', 'k8s.io/kubernetes/cmd/kube-apiserver'],
    ['kubectl', 'k8s.io/kubernetes/cmd/kubectl'],
  ] as const) {
    progress(`Building ${name} ${kubernetesVersion} (first run only; kube-apiserver takes minutes) ...`);
    await run(go, ['build', '-ldflags', ldflags, '-o', path.join(outDir, `${name}.partial`), pkg], workDir, progress);
    await rename(path.join(outDir, `${name}.partial`), path.join(outDir, name));
  }
}

/** etcd: a one-line main around etcdmain, which is what the etcd binary itself runs. */
async function buildEtcd(go: string, workDir: string, outDir: string, progress: Progress): Promise<void> {
  await mkdir(workDir, { recursive: true });
  await writeFile(path.join(workDir, 'go.mod'), `module gingham.local/etcd-build\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 ${etcdVersion}\n`);
  await writeFile(
    path.join(workDir, 'main.go'),
    'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
  );
  progress(`Building etcd ${etcdVersion} ...`);
  await run(go, ['mod', 'tidy'], workDir, progress);
  await run(go, ['build', '-ldflags', '-s -w', '-o', path.join(outDir, 'etcd.partial'), '.'], workDir, progress);
  await rename(path.join(outDir, 'etcd.partial'), path.join(outDir, 'etcd'));
}

/**
 * Releases for machines with internet access and no Go: dl.k8s.io and etcd's GitHub releases,
 * verified against their published SHA-256 sums. Not reachable from this project's build
 * machines (only the Go module proxy is), so this path is written but untested here.
 */
async function downloadReleases(outDir: string, progress: Progress): Promise<void> {
  const { createHash } = await import('node:crypto');
  const fetchBytes = async (url: string) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${response.statusText}`);
    return Buffer.from(await response.arrayBuffer());
  };
  for (const name of ['kube-apiserver', 'kubectl']) {
    const url = `https://dl.k8s.io/release/${kubernetesVersion}/bin/linux/amd64/${name}`;
    progress(`Downloading ${url} ...`);
    const [binary, sum] = await Promise.all([fetchBytes(url), fetchBytes(`${url}.sha256`)]);
    if (createHash('sha256').update(binary).digest('hex') !== sum.toString().trim().split(/\s+/)[0]) {
      throw new Error(`${name}: the download does not match its published SHA-256; not using it`);
    }
    await writeFile(path.join(outDir, name), binary);
    await chmod(path.join(outDir, name), 0o755);
  }
  const tarball = `etcd-${etcdVersion}-linux-amd64.tar.gz`;
  const base = `https://github.com/etcd-io/etcd/releases/download/${etcdVersion}`;
  progress(`Downloading ${base}/${tarball} ...`);
  const [archive, sums] = await Promise.all([fetchBytes(`${base}/${tarball}`), fetchBytes(`${base}/SHA256SUMS`)]);
  const expected = sums.toString().split('\n').find((line) => line.endsWith(tarball))?.split(/\s+/)[0];
  if (!expected || createHash('sha256').update(archive).digest('hex') !== expected) {
    throw new Error(`${tarball}: the download does not match its published SHA-256; not using it`);
  }
  const archivePath = path.join(outDir, tarball);
  await writeFile(archivePath, archive);
  await run('tar', ['-xzf', archivePath, '--strip-components=1', '-C', outDir, `etcd-${etcdVersion}-linux-amd64/etcd`], outDir, progress);
  await rm(archivePath);
}

/** True while process `pid` exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One build at a time per cache: two processes (two test files, a test and a person) building
 * into the same folder would overwrite each other's files. The lock is a folder holding the
 * builder's pid; a lock whose builder died is taken over.
 */
export async function withBuildLock<T>(lockDir: string, progress: Progress, work: () => Promise<T>): Promise<T> {
  let told = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = NaN;
      try {
        owner = Number(readFileSync(path.join(lockDir, 'pid'), 'utf8'));
      } catch {
        // the owner has made the folder but not yet written its pid
      }
      if (Number.isInteger(owner) && !processAlive(owner)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!told) progress(`Another process (pid ${owner}) is building the control plane; waiting for it ...`);
      told = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/** The control-plane binaries, built (or found in the cache) with progress on `progress`. */
export async function ensureBinaries(progress: Progress = (m) => console.error(m)): Promise<ControlPlaneBinaries> {
  const cached = cachedBinaries();
  if (cached) return cached;
  const outDir = binariesDir();
  await mkdir(outDir, { recursive: true });
  return withBuildLock(`${outDir}.lock`, progress, () => buildInto(outDir, progress));
}

async function buildInto(outDir: string, progress: Progress): Promise<ControlPlaneBinaries> {
  const already = cachedBinaries(); // built by the process we waited for
  if (already) return already;
  const go = findGo();
  if (!go) {
    progress('Go is not installed: downloading the official release binaries instead.');
    await downloadReleases(outDir, progress);
  } else {
    const workDir = cacheDir('controlplane', 'build');
    if (!existsSync(path.join(outDir, 'etcd'))) await buildEtcd(go, path.join(workDir, 'etcd'), outDir, progress);
    if (!existsSync(path.join(outDir, 'kubectl')) || !existsSync(path.join(outDir, 'kube-apiserver'))) {
      await buildKubernetes(go, path.join(workDir, 'kubernetes'), outDir, progress);
    }
    await rm(workDir, { recursive: true, force: true });
  }
  const built = cachedBinaries();
  if (!built) throw new Error(`the control-plane binaries are still missing from ${outDir}`);
  progress(`Control-plane binaries ready in ${outDir}`);
  return built;
}
