// `npm run build:agent`: the node agent as one artifact that runs on a Linux node with no Node.js
// installed. agent/cli/bin.ts is bundled by esbuild into one CommonJS file, which Node's single
// executable application support (node --experimental-sea-config + postject) injects into a copy
// of this Node binary. The native parts (agent/**/native, built by scripts/ensure-deps.mjs) go
// beside it, in the same relative place the agent looks for them in a checkout
// (native/build/Release), so that no code needs to know whether it runs bundled. A manifest names
// every file with its SHA-256; the installer verifies each one on the node.
// Options: --out DIR (default out/agent), --version V (default package.json's version + commit).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Script } from 'node:vm';
import { build } from 'esbuild';
import type { AgentManifest } from '../shared/api/agent-artifact.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');


/** The native files the agent loads or runs: executables and addons, not gyp's object files. */
const nativeFiles = ['agent/bgp/native/build/Release/gingham-route-writer', 'agent/bgp/native/build/Release/tcp_md5.node', 'agent/dataplane/native/build/Release/gingham-tunl0'];

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Runs a build step quietly (postject's LIEF warns about every note section); its output is shown only when it fails. */
function run(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

function hasProgram(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function gitDescribe(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export async function buildAgent(outDir = path.join(root, 'out', 'agent'), options: { version?: string } = {}): Promise<AgentManifest> {
  if (process.platform !== 'linux') throw new Error('the agent runs on Linux nodes only: build it on Linux (the Node binary is copied into it)');
  for (const file of nativeFiles) {
    if (!existsSync(path.join(root, file))) throw new Error(`${file} is missing: run node scripts/ensure-deps.mjs first (it builds the native parts; needs gcc, make, python3)`);
  }
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const version = options.version ?? `${pkg.version}+g${gitDescribe()}`;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const work = path.join(outDir, '.build');
  mkdirSync(work);

  // Three bundles: the executable's entry (sea-main.ts) picks, per command, the BGP commands'
  // bundle or the whole agent's, kept as assets with a V8 code cache each. The standalone speaker
  // then does not parse and hold the rest of the agent (about 27 MB).
  const bundles = { agent: 'agent/cli/bin.ts', bgp: 'agent/cli/bgp-bin.ts', main: 'agent/cli/sea-main.ts' };
  const assets: Record<string, string> = {};
  for (const [part, entry] of Object.entries(bundles)) {
    const bundle = path.join(work, `${part}.cjs`);
    await bundleForSea(path.join(root, entry), bundle, version);
    if (part === 'main') continue;
    // sea-main.ts compiles the asset as it is: wrapped here as Node's CommonJS loader would wrap it
    // (its shebang line emptied), with the code cache of exactly that text, made by this Node (the
    // one the executable is a copy of).
    const wrapped = `(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'utf8').replace(/^#!.*/, '')}\n})`;
    writeFileSync(bundle, wrapped);
    writeFileSync(`${bundle}.cache`, new Script(wrapped, { filename: bundle }).createCachedData());
    assets[`${part}.cjs`] = bundle;
    assets[`${part}.cache`] = `${bundle}.cache`;
  }

  const seaConfig = path.join(work, 'sea-config.json');
  const blob = path.join(work, 'sea-prep.blob');
  writeFileSync(seaConfig, JSON.stringify({ main: path.join(work, 'main.cjs'), output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }));
  run(process.execPath, ['--experimental-sea-config', seaConfig]);

  const executable = path.join(outDir, 'gingham-agent');
  copyFileSync(process.execPath, executable);
  chmodSync(executable, 0o755);
  // Node's symbols are a tenth of its size and no use on a node (binutils comes with the native build's gcc).
  run('strip', [executable]);
  const postject = path.join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  run(process.execPath, [postject, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);

  for (const file of nativeFiles) {
    const target = path.join(outDir, 'native', 'build', 'Release', path.basename(file));
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(path.join(root, file), target);
    chmodSync(target, 0o755);
  }
  rmSync(work, { recursive: true, force: true });

  const files: AgentManifest['files'] = listFiles(outDir).map((rel) => {
    const full = path.join(outDir, rel);
    return { path: rel, sha256: sha256File(full), size: statSync(full).size, mode: statSync(full).mode & 0o777 };
  });
  // The executable (Node and the bundle) is almost all of the bytes and compresses to about a third.
  const packed = gzipSync(readFileSync(executable), { level: 6 });
  writeFileSync(`${executable}.gz`, packed);
  const entry = files.find((f) => f.path === 'gingham-agent')!;
  entry.gzip = { path: 'gingham-agent.gz', sha256: createHash('sha256').update(packed).digest('hex'), size: packed.length };
  // And with zstd where the build machine has it: a tenth fewer bytes, and a node unpacks it in a
  // third of gzip's time (0.3 s, not 1.1 s, for the 96 MB on a loaded lab machine).
  if (hasProgram('zstd')) {
    run('zstd', ['-q', '-T0', '-6', executable, '-o', `${executable}.zst`]);
    const zst = readFileSync(`${executable}.zst`);
    entry.zstd = { path: 'gingham-agent.zst', sha256: createHash('sha256').update(zst).digest('hex'), size: zst.length };
  }
  // The built executable prints its own cluster manifests, once, here: an install applies them
  // without starting the executable on a node (seconds on a loaded one) just to read them.
  const clusterYaml = execFileSync(executable, ['manifests'], { encoding: 'utf8' });
  writeFileSync(path.join(outDir, 'cluster-manifests.yaml'), clusterYaml);
  const manifest: AgentManifest = {
    name: 'gingham-agent',
    version,
    platform: 'linux',
    arch: process.arch,
    node: process.version,
    sha256: files.find((f) => f.path === 'gingham-agent')!.sha256,
    executable: 'gingham-agent',
    files,
    clusterManifests: { path: 'cluster-manifests.yaml', sha256: createHash('sha256').update(clusterYaml).digest('hex') },
  };
  writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** One CommonJS bundle of the agent, as the executable holds it. */
async function bundleForSea(entry: string, bundle: string, version: string): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'warning',
    // No comments or indentation: V8 keeps the whole source in memory for the life of the
    // process, and the executable's copy of it is paged in too; at 17 MB unminified that was
    // about 20 MB of every agent's memory (the BGP speaker's budget is 1.5x BIRD's at a full
    // table). Names stay, so stack traces still name the functions.
    minifyWhitespace: true,
    legalComments: 'none',
    // Optional speed-ups of ws that it loads only when installed.
    external: ['bufferutil', 'utf-8-validate'],
    define: { __GINGHAM_AGENT_VERSION__: JSON.stringify(version), 'import.meta.url': '__ginghamModuleUrl' },
    // In a single executable __filename is the executable itself, so modules that find their
    // native parts beside themselves (import.meta.url) find them beside the executable.
    banner: { js: 'var __ginghamModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  });

  // V8 keeps the script's source in memory for as long as the process runs; one character above
  // U+00FF (a dash in a library's comment) makes it two bytes per character: 34 MB instead of 17.
  // Escaped, the source stays one byte per character (\uXXXX means the same in strings, regular
  // expressions and identifiers, and nothing in comments).
  writeFileSync(bundle, readFileSync(bundle, 'utf8').replace(/[^\u0000-\u00ff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => {
      const rel = path.join(prefix, entry.name);
      if (entry.isDirectory()) return listFiles(dir, rel);
      return rel === 'manifest.json' || rel === 'cluster-manifests.yaml' || rel.endsWith('.gz') || rel.endsWith('.zst') ? [] : [rel];
    })
    .sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `npm run build:agent -- [--out DIR] [--version V]`; an unknown or incomplete flag is an error that names it.
  let flags: { out?: string; version?: string };
  try {
    flags = parseArgs({ options: { out: { type: 'string' }, version: { type: 'string' } } }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: npm run build:agent -- [--out DIR] [--version V]`);
    process.exit(2);
  }
  const { out, version } = flags;
  const started = Date.now();
  const manifest = await buildAgent(out ? path.resolve(out) : undefined, version ? { version } : {});
  const size = manifest.files.reduce((sum, f) => sum + f.size, 0);
  console.log(`gingham-agent ${manifest.version} (${manifest.arch}, ${manifest.node}): ${(size / 1e6).toFixed(1)} MB in ${manifest.files.length} files, built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`sha256 ${manifest.sha256}`);
}
