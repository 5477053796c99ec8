// The agent artifact the console installs: the folder `npm run build:agent` writes (out/agent),
// read through its manifest (shared/api/agent-artifact.ts), checked here as untrusted input.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentManifest } from '../../../shared/api/agent-artifact.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';

export interface AgentArtifact {
  dir: string;
  manifest: AgentManifest;
  /** The sum of the files' sizes: what an upload sends. */
  bytes: number;
}

/** Where `npm run build:agent` puts the artifact in a checkout; a packaged app passes its own. */
export function defaultArtifactDir(): string {
  return process.env.GINGHAM_AGENT_ARTIFACT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../out/agent');
}

export function loadArtifact(dir = defaultArtifactDir()): AgentArtifact {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) {
    throw new ConsoleError('not-found', `There is no agent build in ${dir}. Build it with \`npm run build:agent\` (in the console's checkout), then try again.`);
  }
  const parsed = AgentManifest.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new ConsoleError('invalid-request', `${file} is not a manifest npm run build:agent wrote: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const manifest = parsed.data;
  if (!manifest.files.some((f) => f.path === manifest.executable)) throw new ConsoleError('invalid-request', `${file} does not list its executable ${manifest.executable}`);
  return { dir, manifest, bytes: manifest.files.reduce((sum, f) => sum + f.size, 0) };
}

/**
 * Files this process has hashed, by what would change if anything wrote to them: device, inode,
 * size, modification and change times (the change time cannot be set back). An install then
 * re-hashes the artifact's 100 MB only when a file was touched, not on every install.
 */
const hashed = new Map<string, string>();

function fileIdentity(file: string): string {
  const s = statSync(file, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/** Hashes `full` unless this process hashed it as it is now; whether it has `sha256`. */
async function hashMatches(full: string, sha256: string): Promise<boolean> {
  const identity = fileIdentity(full);
  const known = hashed.get(full);
  if (known?.startsWith(`${identity} `)) return known === `${identity} ${sha256}`;
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(full).on('data', (d) => hash.update(d)).on('end', resolve).on('error', reject);
  });
  const digest = hash.digest('hex');
  // Remembered as it was when read: a write meanwhile changes the identity, and it is hashed again.
  hashed.set(full, `${identity} ${digest}`);
  return digest === sha256;
}

/**
 * Re-hashes the local files: an artifact changed after it was built is not installed. With
 * `codec`, the files as they go up with it: the compressed executable (30 MB, not 96; the node
 * checks what it unpacks against the executable's own SHA-256 too) and the others as they are.
 */
export async function verifyArtifact(artifact: AgentArtifact, codec?: 'zstd' | 'gzip' | 'raw'): Promise<void> {
  for (const file of artifact.manifest.files) {
    const packed = codec === 'zstd' ? file.zstd : codec === 'gzip' ? file.gzip : undefined;
    const [name, sha256] = packed ? [packed.path, packed.sha256] : [file.path, file.sha256];
    const full = path.join(artifact.dir, name);
    if (!existsSync(full) || !(await hashMatches(full, sha256))) throw mismatch(name, artifact.dir);
    if (codec === undefined) {
      for (const copy of [file.gzip, file.zstd]) if (copy && !existsSync(path.join(artifact.dir, copy.path))) throw mismatch(copy.path, artifact.dir);
    }
  }
}

function mismatch(file: string, dir: string): ConsoleError {
  return new ConsoleError('invalid-request', `${file} in ${dir} does not match its manifest: rebuild with \`npm run build:agent\`.`);
}

/**
 * The agent's cluster manifests as its build printed them, checked against the manifest; undefined
 * for a build made before they were kept (the installer then has the node's copy print them).
 */
export function clusterManifestsOf(artifact: AgentArtifact): string | undefined {
  const kept = artifact.manifest.clusterManifests;
  if (!kept) return undefined;
  const text = readFileSync(path.join(artifact.dir, kept.path));
  if (createHash('sha256').update(text).digest('hex') !== kept.sha256) {
    throw new ConsoleError('invalid-request', `${kept.path} in ${artifact.dir} does not match its manifest: rebuild with \`npm run build:agent\`.`);
  }
  return text.toString('utf8');
}

/** uname -m's name for Node's process.arch. */
export function unameArch(arch: string): string {
  return ({ x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i686' } as Record<string, string>)[arch] ?? arch;
}
