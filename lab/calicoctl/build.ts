// calicoctl v3.31.0, Project Calico's own CLI, built from the Go module proxy as a test client:
// it reads what Gingham writes the way Calico's users would (`get ippool`, `ipam check`, ...).
// Cached like the control plane's binaries, so only the first run pays (about 3 minutes).
//
// module/ holds the wrapper module: calico's module pinned at the pseudo-version of v3.31.0, the
// published api and lib/std modules beside it, calico's own replace lines, and a full go.sum.
// The checksum database has no record of Calico's pseudo-versions, so the pinned go.sum (with
// -mod=readonly) is what guards the build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../controlplane/cache.ts';

export const calicoctlVersion = 'v3.31.0';
const calicoCommit = 'b1f3c43f84370504e218eb5be8a34c81348f866a';
/** The calico module's pseudo-version for that commit (module/go.mod requires it). */
const calicoModuleVersion = 'v0.0.0-20251021213802-b1f3c43f8437';
const moduleDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'module');

export function calicoctlPath(): string {
  return cacheDir('calicoctl', calicoctlVersion, 'calicoctl');
}

function findGo(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/local/go/bin', '/usr/lib/go/bin']) {
    if (dir && existsSync(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  return undefined;
}

function goBuild(go: string, args: string[], cwd: string, progress: (m: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      GONOSUMDB: 'github.com/projectcalico',
      GOTOOLCHAIN: 'local',
      GOFLAGS: '-buildvcs=false -mod=readonly',
      CGO_ENABLED: '0',
    };
    const child = spawn(go, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-16_000)));
    const ticker = setInterval(() => progress('  ... still building calicoctl'), 30_000);
    child.on('error', (error) => {
      clearInterval(ticker);
      reject(error);
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new Error(`go ${args.join(' ')} failed (exit ${code}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}

/** The path of a built calicoctl, building it first when the cache has none. */
export async function ensureCalicoctl(progress: (m: string) => void = (m) => console.error(m)): Promise<string> {
  const out = calicoctlPath();
  if (existsSync(out)) return out;
  const go = findGo();
  if (!go) throw new Error('calicoctl is built from source and needs Go 1.24.9 or later: install Go (https://go.dev/dl/) and run again');
  const work = await mkdtemp(path.join(os.tmpdir(), 'gingham-calicoctl-'));
  try {
    for (const file of ['go.mod', 'go.sum', 'tools.go']) await copyFile(path.join(moduleDir, file), path.join(work, file));
    await mkdir(path.dirname(out), { recursive: true });
    progress(`Building calicoctl ${calicoctlVersion} from the Go module proxy (first run only, a few minutes) ...`);
    const ldflags = [
      '-s -w',
      `-X github.com/projectcalico/calico/pkg/buildinfo.Version=${calicoctlVersion}`,
      `-X github.com/projectcalico/calico/pkg/buildinfo.GitRevision=${calicoCommit}`,
    ].join(' ');
    await goBuild(go, ['build', '-trimpath', '-o', `${out}.partial`, '-ldflags', ldflags, 'github.com/projectcalico/calico/calicoctl/calicoctl'], work, progress);
    await rename(`${out}.partial`, out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  progress(`calicoctl ready at ${out}`);
  return out;
}

/**
 * Calico's own CRD manifests, from the calico module calicoctl was built from (the Go module
 * cache holds it after the build): for tests of a cluster that already runs Calico's CRDs.
 */
export async function calicoModuleCrdsDir(): Promise<string> {
  await ensureCalicoctl();
  const go = findGo();
  if (!go) throw new Error('Go is needed to locate the calico module');
  const { execFileSync } = await import('node:child_process');
  const modcache = execFileSync(go, ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  const dir = path.join(modcache, 'github.com/projectcalico', `calico@${calicoModuleVersion}`, 'libcalico-go/config/crd');
  if (!existsSync(dir)) throw new Error(`Calico's CRDs are not in the Go module cache (${dir}): run \`go mod download github.com/projectcalico/calico@${calicoModuleVersion}\``);
  return dir;
}
