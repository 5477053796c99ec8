// The agent artifact the console installs: the folder `npm run build:agent` writes (out/agent),
// read through its manifest (shared/api/agent-artifact.ts), checked here as untrusted input.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
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

/** Re-hashes the local files: an artifact changed after it was built is not installed. */
export async function verifyArtifact(artifact: AgentArtifact): Promise<void> {
  for (const file of artifact.manifest.files) {
    const hash = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      createReadStream(path.join(artifact.dir, file.path)).on('data', (d) => hash.update(d)).on('end', resolve).on('error', reject);
    });
    if (hash.digest('hex') !== file.sha256 || (file.gzip && !existsSync(path.join(artifact.dir, file.gzip.path)))) {
      throw new ConsoleError('invalid-request', `${file.path} in ${artifact.dir} does not match its manifest: rebuild with \`npm run build:agent\`.`);
    }
  }
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
