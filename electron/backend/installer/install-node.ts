// Installing, upgrading and removing the agent on one node over SSH, with progress.
//
// The order keeps the node valid at every moment: the release is uploaded beside the running one
// (under .incoming-<sha>, renamed when every file's SHA-256 matches on the node), configuration is
// staged, and only then does activate.sh, detached from the SSH session, switch and restart (see
// node-scripts.ts). So a connection cut while uploading leaves the node as it was, and one cut
// while starting ends with the new agent running or the old one back; the installer reconnects to
// read which, and says so.
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import type { InstallOutcome, InstallPhase, InstallProgress, NodeAgentState } from '../../../shared/api/agent-install.ts';
import { cniConflist, cniPluginShim } from '../../../shared/model/cni-network.ts';
import { AgentRpcError, callAgent } from '../agent-rpc/agent-rpc.ts';
import { clusterManifestsOf, unameArch, type AgentArtifact } from './artifact.ts';
import { agentConfigYaml, type AgentConfigFields } from './agent-credential.ts';
import { activateScript, cacheFactsScript, finishScript, sumsMatchScript, nodePaths, packedName, probeScript, stagedCni, superviseScript, systemdUnit, tokenExpiryScript, uninstallScript, waitStateScript, type Activation, type UploadedRelease } from './node-scripts.ts';
import { chmodRemote, ConnectionLost, ensureRemoteDir, makeRemoteDir, openSftp, RemoteCommandFailed, renameRemote, runScript, runScriptOk, shellQuote, uploadFile, writeRemoteFile } from './remote.ts';

export interface NodeProbe {
  uid: number;
  arch: string;
  init: 'systemd' | 'daemon';
  missing: string[];
  /** The release `current` points at (its SHA-256), or ''. */
  current: string;
  version?: string;
  agentPid?: number;
  agentExe?: string;
  healthy: boolean;
  /** gzip, zstd are there: the executable goes up compressed (zstd unpacks three times as fast). */
  gzip: boolean;
  zstd: boolean;
  fileHashes: Record<string, string>;
  incoming: string[];
  state?: InstallState;
}

export interface InstallState {
  attempt: string;
  phase: 'starting' | 'stopping' | 'started' | 'done' | 'rolled-back' | 'failed';
  release: string;
  previous: string;
  message: string;
  at: string;
}

export function parseProbe(text: string): NodeProbe {
  const [facts = '', stateText = ''] = text.split('--- state\n');
  const probe: NodeProbe = { uid: -1, arch: '', init: 'daemon', missing: [], current: '', healthy: false, gzip: false, zstd: false, fileHashes: {}, incoming: [] };
  for (const line of facts.split('\n')) {
    const at = line.indexOf('=');
    if (at < 0) continue;
    const key = line.slice(0, at);
    const value = line.slice(at + 1);
    if (key === 'uid') probe.uid = Number(value);
    else if (key === 'arch') probe.arch = value;
    else if (key === 'init') probe.init = value === 'systemd' ? 'systemd' : 'daemon';
    else if (key === 'missing') probe.missing.push(value);
    else if (key === 'current') probe.current = value;
    else if (key === 'version' && value) probe.version = value;
    else if (key === 'agentPid') probe.agentPid = Number(value);
    else if (key === 'agentExe') probe.agentExe = value;
    else if (key === 'healthy') probe.healthy = value === 'yes';
    else if (key === 'gzip') probe.gzip = value === 'yes';
    else if (key === 'zstd') probe.zstd = value === 'yes';
    else if (key === 'incoming') probe.incoming.push(value);
    else if (key.startsWith('sha:')) probe.fileHashes[key.slice(4)] = value;
  }
  const state = parseState(stateText);
  if (state) probe.state = state;
  return probe;
}

export function parseState(text: string): InstallState | undefined {
  try {
    const value = JSON.parse(text.trim()) as InstallState;
    return typeof value.attempt === 'string' && typeof value.phase === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The probe, then after `--- facts` the agent token's expiry and the Node it is bound to (`token:`
 * lines) and `release=yes|no`: whether the artifact's release is on the node whole, by SHA-256;
 * only by its files' sizes when the running agent is that release's (it was hashed when it was
 * installed), not 100 MB hashed again on every install that changes nothing. Whether the agent
 * answers the installer asks it over the connection (probe's healthy= is not asked here).
 */
function installFactsScript(artifact: AgentArtifact): string {
  const dir = `${nodePaths.releases}/${artifact.manifest.sha256}`;
  const sizes = artifact.manifest.files.map((f) => `[ "$(stat -c %s ${shellQuote(f.path)} 2>/dev/null)" = ${f.size} ]`).join(' && ');
  return `ASK=no
${probeScript}
echo '--- facts'
( ${tokenExpiryScript} ) | sed 's/^/token:/'
if [ "$exe" = ${dir}/gingham-agent ]; then check() { ${sizes}; }; else check() { ${sumsMatchScript}; }; fi
if cd ${dir} 2>/dev/null && check >/dev/null 2>&1; then echo release=yes; else echo release=no; fi
${cacheFactsScript(artifact.manifest.sha256)}`;
}

type Codec = UploadedRelease['files'][number]['packed'] | 'raw';

/** How the executable goes up: zstd where the node has it (a third of gzip's unpacking time), else gzip, else as it is. */
function codecFor(node: NodeProbe, artifact: AgentArtifact): NonNullable<Codec> {
  if (node.zstd && artifact.manifest.files.some((f) => f.zstd)) return 'zstd';
  if (node.gzip && artifact.manifest.files.some((f) => f.gzip)) return 'gzip';
  return 'raw';
}

/** The release's files as they go up with `codec`: the executable compressed, the rest as they are. */
function packedFiles(artifact: AgentArtifact, codec: NonNullable<Codec>) {
  return artifact.manifest.files.map((file) => {
    const packed = codec === 'zstd' && file.zstd ? ({ tool: 'zstd', ...file.zstd } as const) : codec === 'gzip' && file.gzip ? ({ tool: 'gzip', ...file.gzip } as const) : undefined;
    return { file, packed, bytes: packed?.size ?? file.size };
  });
}

/** What finishScript unpacks and checks in `incoming`. */
function releaseFiles(artifact: AgentArtifact, codec: NonNullable<Codec>, incoming: string): UploadedRelease {
  return { sha: artifact.manifest.sha256, incoming, files: packedFiles(artifact, codec).map(({ file, packed }) => ({ path: file.path, mode: file.mode, ...(packed ? { packed: packed.tool } : {}) })) };
}

/** Uploads the artifact's files into `dir` as `codec` says, with their SHA-256 sums and the release's manifest, over `sftp`. */
async function uploadRelease(
  client: Client,
  sftp: SFTPWrapper,
  artifact: AgentArtifact,
  codec: NonNullable<Codec>,
  dir: string,
  progress: (message: string, sent: number, total: number) => void,
): Promise<UploadedRelease> {
  const { version } = artifact.manifest;
  const files = packedFiles(artifact, codec);
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  progress(`Uploading agent ${version} (${(total / 1e6).toFixed(0)} MB)`, 0, total);
  // `dir` is new (its name has the attempt's id): its folders are made one request each, from the top.
  await ensureRemoteDir(client, sftp, path.posix.dirname(dir));
  const folders = new Set([dir]);
  for (const file of artifact.manifest.files) {
    const parts = path.posix.dirname(file.path).split('/').filter((p) => p !== '.');
    parts.forEach((_, i) => folders.add(`${dir}/${parts.slice(0, i + 1).join('/')}`));
  }
  for (const folder of folders) await makeRemoteDir(client, sftp, folder);
  let sent = 0;
  let lastReport = 0;
  for (const { file, packed, bytes } of files) {
    const base = sent;
    await uploadFile(client, sftp, path.join(artifact.dir, packed?.path ?? file.path), `${dir}/${packed ? packedName(file.path, packed.tool) : file.path}`, file.mode, (done) => {
      const now = Date.now();
      if (now - lastReport < 200) return;
      lastReport = now;
      progress(`Uploading agent ${version}`, base + done, total);
    });
    sent += bytes;
  }
  progress(`Uploaded agent ${version}`, sent, total);
  await Promise.all([
    writeRemoteFile(client, sftp, `${dir}/.sha256sums`, artifact.manifest.files.map((f) => `${f.sha256}  ${f.path}\n`).join(''), 0o644),
    writeRemoteFile(client, sftp, `${dir}/.manifest`, `version=${version}\nsha256=${artifact.manifest.sha256}\n`, 0o644),
  ]);
  return releaseFiles(artifact, codec, dir);
}

/** The node's `at STEP SECONDS` lines as `step +ms` from the first (`agent-socket` may repeat: the first counts). */
function nodeSteps(stderr: string): string {
  const steps = new Map<string, number>();
  for (const [, step, at] of stderr.matchAll(/^at (\S+) (\d+\.\d+)$/gm)) if (!steps.has(step!)) steps.set(step!, Number(at));
  const begin = steps.get('begin');
  if (begin === undefined) return '';
  return [...steps].filter(([step]) => step !== 'begin').map(([step, at]) => `${step} +${Math.round((at - begin) * 1000)} ms`).join(', ');
}

/** Whether `remotePath` exists (SFTP stat). */
function remoteExists(sftp: SFTPWrapper, remotePath: string): Promise<boolean> {
  return new Promise((resolve) => sftp.stat(remotePath, (error) => resolve(!error)));
}

/**
 * Runs finishScript: the uploaded release checked and put in place, then (with `activation`) the
 * switch started and its outcome waited for. `damaged` says why an upload was refused.
 */
async function finishOnNode(
  client: Client,
  uploaded: UploadedRelease | undefined,
  activation: Activation | undefined,
  onActivating?: () => void,
  timeoutMs = 120_000,
): Promise<{ damaged?: string; cacheMissing?: string; state?: InstallState; steps?: string }> {
  let activating = false;
  const result = await runScript(client, activation ? 'starting the agent' : 'verifying the upload', finishScript(uploaded, activation), activation ? [activation.attempt, String(Math.ceil(timeoutMs / 1000))] : [], timeoutMs + 30_000, (stdout) => {
    if (!activating && /^activating$/m.test(stdout)) {
      activating = true;
      onActivating?.();
    }
  });
  if (result.code === 3) return { damaged: /^damaged: (.*)$/m.exec(result.stdout)?.[1] ?? result.stdout.trim() };
  if (result.code === 4) return { cacheMissing: result.stdout.trim() };
  if (result.code !== 0) throw new RemoteCommandFailed(activation ? 'starting the agent' : 'verifying the upload', result);
  if (!activation) return {};
  const state = parseState(result.stdout.slice(result.stdout.indexOf('activating\n') + 'activating\n'.length));
  if (state?.attempt === activation.attempt && ['done', 'rolled-back', 'failed'].includes(state.phase)) return { state, steps: nodeSteps(result.stderr) };
  throw new Error(`the agent did not start within ${Math.ceil(timeoutMs / 1000)} s (last step: ${state?.attempt === activation.attempt ? state.phase : 'not begun'}); see ${nodePaths.activateLog} on the node`);
}

/** The agent running from this release, healthy. */
function runsRelease(probe: NodeProbe, sha: string): boolean {
  return probe.healthy && probe.agentExe === `${nodePaths.releases}/${sha}/gingham-agent`;
}

/** InstallOptions.shareUpload for the nodes of one request: each key's upload runs once. */
export function uploadSharing(): NonNullable<InstallOptions['shareUpload']> {
  const uploads = new Map<string, Promise<unknown>>();
  return (key, upload) => {
    const running = uploads.get(key);
    if (running) return { mine: false, done: running };
    const done = upload();
    uploads.set(key, done);
    return { mine: true, done };
  };
}

export interface InstallTarget {
  nodeId: string;
  /** For messages: the node as the user calls it. */
  label: string;
  /** Opens (or reopens, after a drop) the SSH connection. */
  connect(): Promise<Client>;
  config: AgentConfigFields;
}

export interface ClusterAccess {
  /** Applies the agent's manifests (YAML printed by the agent being installed). */
  applyManifests(yaml: string): Promise<unknown>;
  /** A kubeconfig with a fresh token of the agent's ServiceAccount, bound to Node `nodeName`. */
  agentKubeconfig(nodeName: string): Promise<{ kubeconfig: string; expiresAt: string }>;
}

export interface InstallOptions {
  /** Mint a new token when the node's expires sooner than this. */
  renewWithinMs?: number;
  /** How long the new agent has to answer on its control socket before the node rolls back. */
  startWaitSeconds?: number;
  /**
   * Runs `upload` once per key among the nodes of one request (the key names a filesystem and what
   * goes up): `mine` for the node that runs it, the others wait for the same `done`.
   */
  shareUpload?: (key: string, upload: () => Promise<unknown>) => { mine: boolean; done: Promise<unknown> };
  /** The artifact's local check of the files as they go up with a codec (verifyArtifact), awaited before they do. */
  checkArtifact?: (codec: 'zstd' | 'gzip' | 'raw') => Promise<void>;
  /** Told how long each step took, in milliseconds: where an install's time goes. */
  trace?: (step: string, ms: number) => void;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function describe(probe: NodeProbe | undefined): { state: NodeAgentState; words: string } {
  if (!probe) return { state: 'unknown', words: 'in an unknown state (it could not be read)' };
  if (probe.healthy) return { state: 'old-agent-running', words: `as it was: agent ${probe.version ?? probe.current.slice(0, 12)} still running` };
  if (probe.current) return { state: 'agent-stopped', words: `as it was: agent ${probe.version ?? probe.current.slice(0, 12)} installed but not answering` };
  return { state: 'no-agent', words: 'as it was: no agent installed' };
}

export async function installOnNode(
  target: InstallTarget,
  artifact: AgentArtifact,
  cluster: ClusterAccess,
  report: (progress: InstallProgress) => void,
  options: InstallOptions = {},
): Promise<InstallProgress> {
  const started = Date.now();
  const sha = artifact.manifest.sha256;
  const version = artifact.manifest.version;
  let phase: InstallPhase = 'queued';
  let before: NodeProbe | undefined;
  let client: Client | undefined;
  const attempt = randomUUID();
  /** Set once the command that starts activate.sh is sent: a cut from then on may leave the switch going. */
  let switchMayBegin = false;
  let sftpOpening: Promise<SFTPWrapper> | undefined;
  let mark = started;
  const lap = (step: string) => {
    const now = Date.now();
    options.trace?.(step, now - mark);
    mark = now;
  };
  const emit = (fields: Omit<InstallProgress, 'nodeId' | 'operation' | 'phase' | 'ms'> & { phase?: InstallPhase }): InstallProgress => {
    const progress: InstallProgress = { nodeId: target.nodeId, operation: 'install', phase: fields.phase ?? phase, ms: Date.now() - started, ...fields };
    report(progress);
    return progress;
  };
  const enter = (next: InstallPhase, message: string) => {
    phase = next;
    emit({ message });
  };

  try {
    enter('checking', `Connecting to ${target.label}`);
    client = await target.connect();
    lap('connect');
    // The SFTP session (sshd starts it through the login shell, as a command) opens while the node is read.
    sftpOpening = openSftp(client);
    sftpOpening.catch(() => undefined);
    enter('checking', `Reading what ${target.label} runs`);
    // The probe, the token's expiry and whether the release is there whole: one SSH command; and
    // meanwhile the agent asked whether it answers, through the connection (nothing started on the node).
    // An answer that is an error (or that an older agent shapes otherwise) is still an answer.
    const answering = callAgent(client, 'status').then(() => true, (error: unknown) => error instanceof AgentRpcError);
    const [probeText = '', factsText = ''] = (await runScriptOk(client, 'reading the node', installFactsScript(artifact))).split('--- facts\n');
    before = { ...parseProbe(probeText), healthy: await answering };
    lap('probe');
    if (before.uid !== 0) {
      return emit({ phase: 'failed', outcome: 'failed', nodeState: describe(before).state, retryable: false, message: `${target.label}: installing needs root. Log in as root (set the node's user to root), then install again.` });
    }
    if (before.missing.length > 0) {
      return emit({ phase: 'failed', outcome: 'failed', nodeState: describe(before).state, retryable: false, message: `${target.label} lacks ${before.missing.join(', ')} (coreutils/util-linux): install them, then try again.` });
    }
    if (before.arch !== unameArch(artifact.manifest.arch)) {
      return emit({ phase: 'failed', outcome: 'failed', nodeState: describe(before).state, retryable: false, message: `${target.label} is ${before.arch}; this agent build is for ${unameArch(artifact.manifest.arch)}. Build the agent on a ${before.arch} machine.` });
    }

    const configText = agentConfigYaml(target.config);
    const configChanged = before.fileHashes[nodePaths.config] !== sha256(configText);
    const cniFiles = [
      { staged: stagedCni.plugin, path: nodePaths.cniPlugin, mode: 0o755, text: cniPluginShim(`${nodePaths.current}/gingham-agent`, 'Written by the Gingham console’s installer') },
      { staged: stagedCni.config, path: nodePaths.cniConfig, mode: 0o644, text: cniConflist({ kubeconfig: nodePaths.kubeconfig, nodeName: target.config.nodeName }) },
    ].filter((file) => before!.fileHashes[file.path] !== sha256(file.text));
    const facts = factsText.split('\n');
    const [expiryText = '', boundTo = ''] = facts.filter((l) => l.startsWith('token:')).map((l) => l.slice('token:'.length));
    const expiry = Number(expiryText.trim() || 0) * 1000;
    // A token bound to another Node (or to none, from an older install) cannot write this node's status.
    const tokenNeeded = expiry < Date.now() + (options.renewWithinMs ?? 7 * 24 * 3600_000) || boundTo.trim() !== target.config.nodeName;
    const releasePresent = facts.includes('release=yes');
    const cacheId = facts.find((l) => l.startsWith('cacheId='))?.slice('cacheId='.length).trim();
    const cached = facts.filter((l) => l.startsWith('cached=')).map((l) => l.slice('cached='.length).trim());

    if (releasePresent && runsRelease(before, sha) && !configChanged && !tokenNeeded && cniFiles.length === 0) {
      return emit({ phase: 'done', outcome: 'unchanged', nodeState: 'new-agent-running', version, message: `${target.label} already runs agent ${version}: nothing to change.` });
    }
    // The agent's own manifests, as its build kept them, go to the API server while the release
    // uploads, and the agent's token (its ServiceAccount is one of them) is minted meanwhile too.
    // An older build's manifests are printed by its executable on the node, once it is there.
    const kept = clusterManifestsOf(artifact);
    const applying = kept === undefined ? undefined : cluster.applyManifests(kept);
    let minting = tokenNeeded && applying ? applying.then(() => cluster.agentKubeconfig(target.config.nodeName)) : undefined;
    // Both are awaited further on; meanwhile a rejection must not go unhandled.
    for (const work of [applying, minting]) work?.catch(() => undefined);

    const staged = `${nodePaths.staged}.${attempt}`;
    const damagedUpload = (words: string) =>
      emit({ phase: 'failed', outcome: 'failed', nodeState: describe(before).state, retryable: true, message: `The upload arrived damaged on ${target.label} (${words}); it was removed and the node is ${describe(before).words}. Retry.` });
    const incoming = `${nodePaths.releases}/.incoming-${sha}-${attempt}`;
    const codec = codecFor(before, artifact);
    const uploadProgress = (message: string, sent: number, total: number) => {
      phase = 'uploading';
      emit({ message, bytesSent: sent, bytesTotal: total });
    };
    /** This node's own upload, straight into its releases (no cache, or the cache's copy failed). */
    const uploadHere = async (session: SFTPWrapper) => uploadRelease(client!, session, artifact, codec, incoming, uploadProgress);
    /**
     * The release through the node's cache: uploaded there once for every node of this request
     * that shares the cache's filesystem (the first to get here uploads it, the others wait), or
     * found there from before; each node then copies it into its releases and checks it itself.
     * When another node's upload fails, this node uploads its own.
     */
    const viaCache = async (id: string, share: NonNullable<InstallOptions['shareUpload']>): Promise<UploadedRelease> => {
      const entry = `${nodePaths.cache}/releases/${sha}-${codec}`;
      if (!cached.includes(codec)) {
        const filling = `${nodePaths.cache}/releases/.incoming-${sha}-${codec}-${attempt}`;
        const { mine, done } = share(`${id} ${sha}-${codec}`, async () => {
          await uploadRelease(client!, sftp, artifact, codec, filling, uploadProgress);
          // Whole, it takes the entry's name; another console may have put the same one there first.
          await renameRemote(client!, sftp, filling, entry).catch(async (error: unknown) => {
            if (!(await remoteExists(sftp, `${entry}/.manifest`))) throw error;
          });
        });
        if (!mine) enter('uploading', `Uploading agent ${version} once for the nodes that share ${target.label}’s disk`);
        try {
          await done;
        } catch (error) {
          if (mine) throw error;
          enter('uploading', `The shared upload failed (${(error as Error).message}): uploading to ${target.label} itself`);
          return uploadHere(sftp);
        }
      } else {
        enter('uploading', `Agent ${version} is in ${target.label}’s upload cache already`);
      }
      return { ...releaseFiles(artifact, codec, incoming), from: entry };
    };
    const sftp = await sftpOpening;
    try {
      let uploaded: UploadedRelease | undefined;
      if (!releasePresent) {
        await options.checkArtifact?.(codec);
        uploaded = cacheId && options.shareUpload ? await viaCache(cacheId, options.shareUpload) : await uploadHere(sftp);
        lap('upload');
      }
      if (!applying) {
        // An older build: its executable prints its manifests, so the release is checked and put in place first.
        enter('verifying', 'Checking every file’s SHA-256 on the node');
        const checked = await finishOnNode(client, uploaded, undefined);
        if (checked.damaged || checked.cacheMissing) return damagedUpload(checked.damaged ?? checked.cacheMissing!);
        uploaded = undefined;
        await cluster.applyManifests(await runScriptOk(client, 'printing the agent’s manifests', `${nodePaths.releases}/${sha}/gingham-agent manifests`));
        if (tokenNeeded) minting = cluster.agentKubeconfig(target.config.nodeName);
      }

      enter('configuring', 'Writing the agent’s configuration and credential');
      await applying;
      lap('manifests');
      // /etc/gingham and the staged files are root's only: the credential is among them.
      await Promise.all([ensureRemoteDir(client, sftp, nodePaths.etc, 0o700), ensureRemoteDir(client, sftp, nodePaths.bin)]);
      await Promise.all([chmodRemote(client, sftp, nodePaths.etc, 0o700), ensureRemoteDir(client, sftp, staged, 0o700)]);
      const writes: Promise<void>[] = [
        writeRemoteFile(client, sftp, `${nodePaths.bin}/supervise.sh`, superviseScript, 0o755),
        writeRemoteFile(client, sftp, `${nodePaths.bin}/activate.sh`, activateScript, 0o755),
        ...cniFiles.map((file) => writeRemoteFile(client!, sftp, `${staged}/${file.staged}`, file.text, file.mode)),
      ];
      if (configChanged) writes.push(writeRemoteFile(client, sftp, `${staged}/agent.yaml`, configText, 0o644));
      if (before.init === 'systemd') writes.push(writeRemoteFile(client, sftp, nodePaths.unit, systemdUnit(), 0o644));
      if (minting) {
        const credential = await minting;
        lap('token');
        writes.push(writeRemoteFile(client, sftp, `${staged}/kubeconfig`, credential.kubeconfig, 0o600));
      }
      await Promise.all(writes);
      endSftp(sftp);
      lap('config files');

      enter('verifying', uploaded ? 'Checking every file’s SHA-256 on the node' : `Agent ${version} is already on the node`);
      const activation: Activation = { sha, attempt, init: before.init, waitSeconds: options.startWaitSeconds ?? 45, staged };
      // From here on the node may switch without the connection: a cut is followed up (see catch).
      switchMayBegin = true;
      const starting = () => enter('starting', `Starting agent ${version}`);
      let ended = await finishOnNode(client, uploaded, activation, starting, activateTimeout(options));
      if ((ended.damaged || ended.cacheMissing) && uploaded?.from) {
        // The cache's copy went (an uninstall on a node that shares it) or was bad (and was removed): this node's own upload.
        const again = await openSftp(client);
        try {
          enter('uploading', `The upload cache failed (${ended.damaged ?? ended.cacheMissing}): uploading to ${target.label} itself`);
          uploaded = await uploadHere(again);
        } finally {
          again.end();
        }
        enter('verifying', 'Checking every file’s SHA-256 on the node');
        ended = await finishOnNode(client, uploaded, activation, starting, activateTimeout(options));
      }
      if (ended.damaged || ended.cacheMissing) return damagedUpload(ended.damaged ?? ended.cacheMissing!);
      lap(`verify and activation (${ended.steps ?? ''})`);
      return finish(target, before, ended.state!, version, emit);
    } finally {
      endSftp(sftp);
    }
  } catch (error) {
    const lost = error instanceof ConnectionLost;
    const reason = lost ? `The SSH connection to ${target.label} dropped while ${phaseWords(phase)}` : `${target.label}: ${(error as Error).message}`;
    if (!switchMayBegin) {
      const { state, words } = describe(before);
      return emit({ phase: 'failed', outcome: 'failed', nodeState: state, retryable: true, message: `${reason}. The node is ${words}. Retry to install.`, ...(state === 'old-agent-running' && before?.version ? { version: before.version } : {}) });
    }
    // activate.sh runs on without us: reconnect and read how it ended.
    emit({ message: `${reason}; the switch goes on without the connection. Reconnecting to see how it ended…` });
    try {
      const again = await target.connect();
      const probe = parseProbe(await runScriptOk(again, 'reading the node', probeScript));
      if (probe.state?.attempt === attempt) {
        const state = await waitForActivation(again, attempt, activateTimeout(options));
        return finish(target, before!, state, version, emit, `${reason}. `);
      }
      const { state: nodeState, words } = describe(probe);
      return emit({ phase: 'failed', outcome: 'failed', nodeState, retryable: true, message: `${reason} before the switch began. The node is ${words}. Retry to install.` });
    } catch (again) {
      return emit({
        phase: 'failed',
        outcome: 'failed',
        nodeState: 'unknown',
        retryable: true,
        message: `${reason}, and it could not be reached again (${(again as Error).message}). The switch finishes on the node by itself, with agent ${version} or the previous agent running; reconnect and retry to see which.`,
      });
    }
  } finally {
    // However the install ended, its SFTP session does too.
    sftpOpening?.then(endSftp, () => undefined);
  }
}

/** activate.sh waits for the new agent, and as long again for the old one after a rollback. */
function activateTimeout(options: InstallOptions): number {
  return ((options.startWaitSeconds ?? 45) * 2 + 30) * 1000;
}

/** Ends an SFTP session; once the connection is gone, so is the session. */
function endSftp(sftp: SFTPWrapper): void {
  try {
    sftp.end();
  } catch {
    // nothing left to end
  }
}

function phaseWords(phase: InstallPhase): string {
  return ({ queued: 'waiting', checking: 'reading the node', uploading: 'uploading', verifying: 'verifying the upload', configuring: 'writing the configuration', starting: 'starting the agent' } as Record<string, string>)[phase] ?? phase;
}

/** How attempt `attempt` of activate.sh ended, waited for on the node. */
async function waitForActivation(client: Client, attempt: string, timeoutMs: number): Promise<InstallState> {
  const seconds = Math.ceil(timeoutMs / 1000);
  const state = parseState(await runScriptOk(client, 'waiting for the agent to start', waitStateScript, [attempt, String(seconds)], timeoutMs + 30_000));
  if (state?.attempt === attempt && ['done', 'rolled-back', 'failed'].includes(state.phase)) return state;
  throw new Error(`the agent did not start within ${seconds} s (last step: ${state?.attempt === attempt ? state.phase : 'not begun'}); see ${nodePaths.activateLog} on the node`);
}

function finish(
  target: InstallTarget,
  before: NodeProbe,
  state: InstallState,
  version: string,
  emit: (fields: Omit<InstallProgress, 'nodeId' | 'operation' | 'phase' | 'ms'> & { phase?: InstallPhase }) => InstallProgress,
  prefix = '',
): InstallProgress {
  if (state.phase === 'done') {
    const outcome: InstallOutcome = before.current && before.current !== state.release ? 'upgraded' : 'installed';
    return emit({ phase: 'done', outcome, nodeState: 'new-agent-running', version, message: `${prefix}${target.label} runs agent ${version}.` });
  }
  if (state.phase === 'rolled-back') {
    return emit({ phase: 'failed', outcome: 'failed', nodeState: 'old-agent-running', retryable: true, ...(before.version ? { version: before.version } : {}), message: `${prefix}${target.label}: ${state.message}. See ${nodePaths.agentLog} on the node.` });
  }
  return emit({ phase: 'failed', outcome: 'failed', nodeState: state.previous ? 'unknown' : 'no-agent', retryable: true, message: `${prefix}${target.label}: ${state.message}. See ${nodePaths.agentLog} on the node.` });
}

const leftoverScript = `for d in ${[nodePaths.opt, nodePaths.etc, nodePaths.lib, nodePaths.run].join(' ')}; do [ -n "$(ls -A "$d" 2>/dev/null)" ] && echo "$d"; done; for f in ${[nodePaths.unit, nodePaths.cniPlugin, nodePaths.cniConfig].join(' ')}; do [ -f "$f" ] && echo "$f"; done; true`;

export async function uninstallFromNode(target: Omit<InstallTarget, 'config'>, report: (progress: InstallProgress) => void): Promise<InstallProgress> {
  const started = Date.now();
  const emit = (phase: InstallPhase, fields: Omit<InstallProgress, 'nodeId' | 'operation' | 'phase' | 'ms'>): InstallProgress => {
    const progress: InstallProgress = { nodeId: target.nodeId, operation: 'uninstall', phase, ms: Date.now() - started, ...fields };
    report(progress);
    return progress;
  };
  let before: NodeProbe | undefined;
  try {
    emit('checking', { message: `Connecting to ${target.label}` });
    const client = await target.connect();
    before = parseProbe(await runScriptOk(client, 'reading the node', probeScript));
    // The folders may be empty mount points (as on the lab's nodes): only content counts.
    const present = (await runScript(client, 'looking for the agent', leftoverScript)).stdout.trim();
    if (!present && !before.agentPid) return emit('done', { outcome: 'not-installed', nodeState: 'no-agent', message: `${target.label} has no agent installed: nothing to remove.` });
    emit('starting', { message: 'Stopping the agent (it removes its routes and devices) and removing its files' });
    await runScriptOk(client, 'uninstalling', uninstallScript, [before.init], 90_000);
    const left = (await runScript(client, 'checking what is left', leftoverScript)).stdout.trim();
    if (left) return emit('failed', { outcome: 'failed', nodeState: 'agent-stopped', retryable: true, message: `${target.label}: could not remove ${left.split('\n').join(', ')}.` });
    return emit('done', { outcome: 'uninstalled', nodeState: 'no-agent', message: `Removed the agent from ${target.label}.` });
  } catch (error) {
    const lost = error instanceof ConnectionLost;
    return emit('failed', {
      outcome: 'failed',
      nodeState: lost ? 'unknown' : describe(before).state,
      retryable: true,
      message: lost ? `The SSH connection to ${target.label} dropped during the removal. Retry: removing is safe to repeat.` : `${target.label}: ${(error as Error).message}`,
    });
  }
}
