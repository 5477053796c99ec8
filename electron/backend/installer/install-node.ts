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
import type { Client } from 'ssh2';
import type { InstallOutcome, InstallPhase, InstallProgress, NodeAgentState } from '../../../shared/api/agent-install.ts';
import { cniConflist, cniPluginShim } from '../../../shared/model/cni-network.ts';
import { clusterManifestsOf, unameArch, type AgentArtifact } from './artifact.ts';
import { agentConfigYaml, type AgentConfigFields } from './agent-credential.ts';
import { activateScript, nodePaths, probeScript, stagedCni, superviseScript, systemdUnit, tokenExpiryScript, uninstallScript } from './node-scripts.ts';
import { ConnectionLost, openSftp, runScript, runScriptOk, shellQuote, uploadFile, writeRemoteFile } from './remote.ts';

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
  /** gzip is there: the executable goes up compressed. */
  gzip: boolean;
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
  const probe: NodeProbe = { uid: -1, arch: '', init: 'daemon', missing: [], current: '', healthy: false, gzip: false, fileHashes: {}, incoming: [] };
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

/** Resolves to the error a promise ends with, or undefined: a step started early is awaited later, and must not reject unheard meanwhile. */
function settle(work: Promise<unknown>): Promise<Error | undefined> {
  return work.then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
}

/**
 * Prints `token:` lines (the agent token's expiry, the Node it is bound to) and `release=yes|no`:
 * whether the artifact's release is on the node whole, by SHA-256, or only by the files' sizes
 * when `quick` (the running agent's own release, hashed when it was installed).
 */
function releaseFactsScript(artifact: AgentArtifact, quick: boolean): string {
  const dir = `${nodePaths.releases}/${artifact.manifest.sha256}`;
  const check = quick
    ? artifact.manifest.files.map((f) => `[ "$(stat -c %s ${shellQuote(f.path)} 2>/dev/null)" = ${f.size} ]`).join(' && ')
    : 'sha256sum --quiet -c .sha256sums';
  return `( ${tokenExpiryScript} ) | sed 's/^/token:/'\nif cd ${dir} 2>/dev/null && ${check} >/dev/null 2>&1; then echo release=yes; else echo release=no; fi\n`;
}

/** The agent running from this release, healthy. */
function runsRelease(probe: NodeProbe, sha: string): boolean {
  return probe.healthy && probe.agentExe === `${nodePaths.releases}/${sha}/gingham-agent`;
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
}

const stageOrder: InstallPhase[] = ['queued', 'checking', 'uploading', 'verifying', 'configuring', 'starting', 'done', 'failed'];

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
    enter('checking', `Reading what ${target.label} runs`);
    before = parseProbe(await runScriptOk(client, 'reading the node', probeScript));
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
    // One round trip for the token's expiry and whether the release is there whole. The release
    // the running agent was started from was hashed when it was installed: its files' sizes are
    // checked then, not 100 MB hashed again on every install that changes nothing.
    const facts = (await runScriptOk(client, 'reading the token and the release', releaseFactsScript(artifact, runsRelease(before, sha)))).split('\n');
    const [expiryText = '', boundTo = ''] = facts.filter((l) => l.startsWith('token:')).map((l) => l.slice('token:'.length));
    const expiry = Number(expiryText.trim() || 0) * 1000;
    // A token bound to another Node (or to none, from an older install) cannot write this node's status.
    const tokenNeeded = expiry < Date.now() + (options.renewWithinMs ?? 7 * 24 * 3600_000) || boundTo.trim() !== target.config.nodeName;
    const releasePresent = facts.includes('release=yes');

    if (releasePresent && runsRelease(before, sha) && !configChanged && !tokenNeeded && cniFiles.length === 0) {
      return emit({ phase: 'done', outcome: 'unchanged', nodeState: 'new-agent-running', version, message: `${target.label} already runs agent ${version}: nothing to change.` });
    }
    // The agent's own manifests, as its build kept them, go to the API server while the release
    // uploads (an older build's are printed by its executable on the node, further on).
    const kept = clusterManifestsOf(artifact);
    const applying = kept === undefined ? undefined : settle(cluster.applyManifests(kept));

    if (!releasePresent) {
      const packed = (file: AgentArtifact['manifest']['files'][number]) => (before!.gzip ? file.gzip : undefined);
      const uploadBytes = artifact.manifest.files.reduce((sum, f) => sum + (packed(f)?.size ?? f.size), 0);
      enter('uploading', `Uploading agent ${version} (${(uploadBytes / 1e6).toFixed(0)} MB)`);
      const incoming = `${nodePaths.releases}/.incoming-${sha}`;
      // Left-overs of an earlier cut upload go first; the running release is never touched.
      await runScriptOk(client, 'preparing the upload', `set -e; mkdir -p ${nodePaths.releases}; rm -rf ${nodePaths.releases}/.incoming-*; mkdir -p ${[...new Set(artifact.manifest.files.map((f) => path.posix.dirname(`${incoming}/${f.path}`)))].map(shellQuote).join(' ')}`);
      const sftp = await openSftp(client);
      let sent = 0;
      let lastReport = 0;
      for (const file of artifact.manifest.files) {
        const base = sent;
        const gz = packed(file);
        await uploadFile(client, sftp, path.join(artifact.dir, gz?.path ?? file.path), `${incoming}/${file.path}${gz ? '.gz' : ''}`, file.mode, (bytes) => {
          const now = Date.now();
          if (now - lastReport < 200) return;
          lastReport = now;
          emit({ message: `Uploading agent ${version}`, bytesSent: base + bytes, bytesTotal: uploadBytes });
        });
        sent += gz?.size ?? file.size;
      }
      emit({ message: `Uploaded agent ${version}`, bytesSent: sent, bytesTotal: uploadBytes });
      await writeRemoteFile(client, sftp, `${incoming}/.sha256sums`, artifact.manifest.files.map((f) => `${f.sha256}  ${f.path}\n`).join(''), 0o644);
      await writeRemoteFile(client, sftp, `${incoming}/.manifest`, `version=${version}\nsha256=${sha}\n`, 0o644);
      sftp.end();

      enter('verifying', 'Checking every file’s SHA-256 on the node');
      const release = `${nodePaths.releases}/${sha}`;
      const aside = `${nodePaths.releases}/.damaged-${sha}`;
      const check = await runScript(
        client,
        'verifying the upload',
        // gzip checks its own CRC as it unpacks; sha256sum then checks the unpacked files. A
        // damaged copy of the same release already there (it failed the check above) is moved
        // aside for the whole one: a running agent keeps its open executable, and `current`
        // points at the release's name, which is whole again a rename later.
        `set -e; cd ${incoming}; ${artifact.manifest.files.filter(packed).map((f) => `gzip -d ${shellQuote(f.path)}.gz`).join('; ') || 'true'}; sha256sum --quiet -c .sha256sums; ${artifact.manifest.files.map((f) => `chmod ${f.mode.toString(8)} ${shellQuote(f.path)}`).join('; ')}; cd /; rm -rf ${aside}; if [ -e ${release} ]; then mv -T ${release} ${aside}; fi; mv -T ${incoming} ${release}; rm -rf ${aside}`,
      );
      if (check.code !== 0) {
        await runScript(client, 'removing a bad upload', `rm -rf ${incoming}`);
        return emit({ phase: 'failed', outcome: 'failed', nodeState: describe(before).state, retryable: true, message: `The upload arrived damaged on ${target.label} (${check.stdout.trim() || check.stderr.trim()}); it was removed and the node is ${describe(before).words}. Retry.` });
      }
    }

    enter('configuring', 'Writing the agent’s configuration and credential');
    if (applying) {
      const failed = await applying;
      if (failed) throw failed;
    } else {
      await cluster.applyManifests(await runScriptOk(client, 'printing the agent’s manifests', `${nodePaths.releases}/${sha}/gingham-agent manifests`));
    }
    await runScriptOk(client, 'preparing the folders', `set -e; mkdir -p ${nodePaths.bin} ${nodePaths.staged} ${nodePaths.lib} ${nodePaths.run}; chmod 0700 ${nodePaths.etc} ${nodePaths.staged} ${nodePaths.run}; rm -f ${nodePaths.staged}/*`);
    const sftp = await openSftp(client);
    if (configChanged) await writeRemoteFile(client, sftp, `${nodePaths.staged}/agent.yaml`, configText, 0o644);
    if (tokenNeeded) {
      const credential = await cluster.agentKubeconfig(target.config.nodeName);
      await writeRemoteFile(client, sftp, `${nodePaths.staged}/kubeconfig`, credential.kubeconfig, 0o600);
    }
    for (const file of cniFiles) await writeRemoteFile(client, sftp, `${nodePaths.staged}/${file.staged}`, file.text, file.mode);
    await writeRemoteFile(client, sftp, `${nodePaths.bin}/supervise.sh`, superviseScript, 0o755);
    await writeRemoteFile(client, sftp, `${nodePaths.bin}/activate.sh`, activateScript, 0o755);
    if (before.init === 'systemd') await writeRemoteFile(client, sftp, nodePaths.unit, systemdUnit(), 0o644);
    sftp.end();

    enter('starting', `Starting agent ${version}`);
    await runScriptOk(client, 'starting activate.sh', `setsid -f sh ${nodePaths.bin}/activate.sh ${sha} ${attempt} ${before.init} ${options.startWaitSeconds ?? 45} </dev/null >${nodePaths.activateLog} 2>&1`);
    const state = await waitForActivation(client, attempt, activateTimeout(options));
    return finish(target, before, state, version, emit);
  } catch (error) {
    const lost = error instanceof ConnectionLost;
    const reason = lost ? `The SSH connection to ${target.label} dropped while ${phaseWords(phase)}` : `${target.label}: ${(error as Error).message}`;
    if (stageOrder.indexOf(phase) < stageOrder.indexOf('starting')) {
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
  }
}

/** activate.sh waits for the new agent, and as long again for the old one after a rollback. */
function activateTimeout(options: InstallOptions): number {
  return ((options.startWaitSeconds ?? 45) * 2 + 30) * 1000;
}

function phaseWords(phase: InstallPhase): string {
  return ({ queued: 'waiting', checking: 'reading the node', uploading: 'uploading', verifying: 'verifying the upload', configuring: 'writing the configuration', starting: 'starting the agent' } as Record<string, string>)[phase] ?? phase;
}

async function waitForActivation(client: Client, attempt: string, timeoutMs: number): Promise<InstallState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = parseState((await runScript(client, 'reading the install state', `cat ${nodePaths.state} 2>/dev/null`)).stdout);
    if (state?.attempt === attempt && ['done', 'rolled-back', 'failed'].includes(state.phase)) return state;
    if (Date.now() > deadline) throw new Error(`the agent did not start within ${timeoutMs / 1000} s (last step: ${state?.attempt === attempt ? state.phase : 'not begun'}); see ${nodePaths.activateLog} on the node`);
    await new Promise((r) => setTimeout(r, 300));
  }
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
