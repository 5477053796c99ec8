// The installer against real sshd nodes (each in its own network and mount namespace) and a real
// API server: install on two nodes at once, reinstall, upgrade, roll back, uninstall; and the
// SSH session killed mid-upload and mid-start, after which the node must be valid and the
// installer must say truthfully what it runs.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlaneDown, controlPlaneUp, type ControlPlane } from '../../../lab/controlplane/controlplane.ts';
import type { InstallProgress } from '../../../shared/api/agent-install.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';
import { applyAgentManifests, requestAgentToken } from './agent-credential.ts';
import { loadArtifact, type AgentArtifact } from './artifact.ts';
import { installOnNode, parseProbe, uninstallFromNode, uploadSharing, type ClusterAccess, type InstallOptions, type InstallTarget } from './install-node.ts';
import { installedDirs, nodePaths, probeScript } from './node-scripts.ts';
import { buildAgentArtifact, cniDirs, connectTo, onNode, privateDirs } from './testing/install-fixture.ts';

let dir: string;
let v1: AgentArtifact;
let v2: AgentArtifact;
let a: SshdNode;
let b: SshdNode;
let controlPlane: ControlPlane;
let cluster: ClusterAccess;

const prefixLength = 30;
/** An install moves ~35 MB per node and starts a 100 MB executable: minutes on a machine loaded by other suites. */
const testTimeout = 600_000;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gops-install-'));
  const t0 = Date.now();
  await buildAgentArtifact(path.join(dir, 'v1'), '1.0.0-test');
  await buildAgentArtifact(path.join(dir, 'v2'), '2.0.0-test');
  console.log(`two agent builds in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  v1 = loadArtifact(path.join(dir, 'v1'));
  v2 = loadArtifact(path.join(dir, 'v2'));
  // The two nodes share this machine's /var/cache/gingham, as two nodes on one host (the lab's) do:
  // one upload serves both.
  const options = { prefix: 'gops', subnet: '100.64.214', privateDirs: privateDirs.filter((d) => d !== nodePaths.cache) };
  a = await startSshdNode(0, options);
  b = await startSshdNode(1, options);
  // The API server listens on a's host side; b reaches it through its own host side (a local address of this machine).
  controlPlane = await controlPlaneUp({ stateDir: path.join(dir, 'controlplane'), address: a.hostAddress });
  execFileSync('ip', ['-n', b.netns, 'route', 'add', `${a.hostAddress}/32`, 'via', b.hostAddress]);
  const admin = new KubeConfig();
  admin.loadFromFile(controlPlane.kubeconfig);
  const core = admin.makeApiClient(CoreV1Api);
  for (const node of [a, b]) {
    await core.createNode({
      body: { metadata: { name: nodeName(node), annotations: { 'projectcalico.org/IPv4Address': `${node.address}/${prefixLength}` } }, status: { addresses: [{ type: 'InternalIP', address: node.address }] } },
    });
  }
  cluster = { applyManifests: (yaml) => applyAgentManifests(admin, yaml), agentKubeconfig: (nodeName: string) => requestAgentToken(admin, undefined, nodeName) };
}, 600_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  if (controlPlane) await controlPlaneDown(controlPlane.stateDir, true);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function nodeName(node: SshdNode): string {
  return node === a ? 'gops-a' : 'gops-b';
}

function target(node: SshdNode, config: Partial<InstallTarget['config']> = {}): InstallTarget {
  return { nodeId: nodeName(node), label: nodeName(node), connect: () => connectTo(node), config: { nodeName: nodeName(node), address: `${node.address}/${prefixLength}`, ...config } };
}

async function probe(node: SshdNode) {
  return parseProbe(await onNode(node, probeScript));
}

/** The agent's own status, asked on the node with the installed executable. */
async function agentStatus(node: SshdNode): Promise<{ node: string; datastore: { connected: boolean } }> {
  return JSON.parse(await onNode(node, `${nodePaths.current}/gingham-agent node-status --control ${nodePaths.control}`)) as { node: string; datastore: { connected: boolean } };
}

/** Executables of the processes in the node's network namespace that are Gingham's. */
function gopsProcesses(node: SshdNode): string[] {
  return execFileSync('ip', ['netns', 'pids', node.netns], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .flatMap((pid) => {
      try {
        return [readlinkSync(`/proc/${pid}/exe`)];
      } catch {
        return [];
      }
    })
    .filter((exe) => exe.includes('gingham'));
}

/** When each phase began, from the progress reports: `checking 0 ms, uploading 812 ms, ...`. */
function phaseTimes(progress: InstallProgress[]): string {
  return progress.filter((p, i) => i === 0 || p.phase !== progress[i - 1]!.phase).map((p) => `${p.phase} ${p.ms} ms`).join(', ');
}

/** installOnNode as the console's installer calls it: nodes of one request share their uploads. */
function install(node: InstallTarget, artifact: AgentArtifact, report: (p: InstallProgress) => void, options: InstallOptions = {}, shareUpload = uploadSharing()) {
  return installOnNode(node, artifact, cluster, report, { shareUpload, ...options });
}

const release = (artifact: AgentArtifact) => `${nodePaths.releases}/${artifact.manifest.sha256}/gingham-agent`;

describe('agent installer over SSH', () => {
  it('installs on two nodes at once, with progress per node, and each agent answers with its own least-privilege credential', async () => {
    const seen = new Map<string, InstallProgress[]>();
    // One request for both nodes, as the console makes it.
    const together = uploadSharing();
    const t0 = Date.now();
    const results = await Promise.all(
      [a, b].map((node) => install(target(node), v1, (p) => seen.set(p.nodeId, [...(seen.get(p.nodeId) ?? []), p]), { startWaitSeconds: 30 }, together)),
    );
    console.log(`installed on two nodes in ${((Date.now() - t0) / 1000).toFixed(1)} s (${results.map((r) => `${r.nodeId} ${r.ms} ms`).join(', ')})`);
    for (const [node, progress] of seen) console.log(`${node}: ${phaseTimes(progress)}`);
    for (const result of results) expect(result, result.message).toMatchObject({ phase: 'done', outcome: 'installed', nodeState: 'new-agent-running', version: '1.0.0-test' });
    // One node uploaded, for both (they share the cache's filesystem); the other waited for it.
    const uploaders = [a, b].filter((node) => seen.get(nodeName(node))!.some((p) => p.bytesSent !== undefined));
    expect(uploaders).toHaveLength(1);
    const progress = seen.get(nodeName(uploaders[0]!))!;
    const bytes = progress.filter((p) => p.bytesSent !== undefined).map((p) => p.bytesSent!);
    // The executable went up compressed (zstd here: the machine has it): under a third of the bytes.
    const total = progress.find((p) => p.bytesTotal !== undefined)!.bytesTotal!;
    expect(bytes.at(-1)).toBe(total);
    expect(total).toBeLessThan(v1.bytes / 3);
    expect(bytes).toEqual([...bytes].sort((x, y) => x - y));
    for (const node of [a, b]) {
      const phases = seen.get(nodeName(node))!.map((p) => p.phase);
      expect([...new Set(phases)]).toEqual(['checking', 'uploading', 'configuring', 'verifying', 'starting', 'done']);
      const status = await agentStatus(node);
      expect(status.node).toBe(nodeName(node));
      expect(status.datastore.connected).toBe(true);
      const p = await probe(node);
      expect(p.agentExe).toBe(release(v1));
      expect(p.version).toBe('1.0.0-test');
    }
    // The credential: the agent's ServiceAccount token, the CA, nothing of the admin's; root-only files.
    const files = await onNode(a, `stat -c '%a %n' ${nodePaths.kubeconfig} ${nodePaths.run} ${nodePaths.control}; cat ${nodePaths.kubeconfig}`);
    expect(files).toContain(`600 ${nodePaths.kubeconfig}`);
    expect(files).toContain(`700 ${nodePaths.run}`);
    expect(files).not.toMatch(/client-certificate|client-key/);
    const token = /token: (\S+)/.exec(files)![1]!;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string };
    expect(claims.sub).toBe('system:serviceaccount:gingham-system:gingham-agent');
    // The CNI plugin and the pod network's configuration, where a runtime looks: the plugin runs the installed agent.
    const cni = await onNode(a, `stat -c '%a %n' ${nodePaths.cniPlugin} ${nodePaths.cniConfig}; cat ${nodePaths.cniConfig}`);
    expect(cni).toContain(`755 ${nodePaths.cniPlugin}`);
    expect(cni).toContain(`644 ${nodePaths.cniConfig}`);
    const conflist = JSON.parse(cni.slice(cni.indexOf('{'))) as { name: string; plugins: { type: string; kubeconfig: string; nodename: string }[] };
    expect(conflist).toMatchObject({ name: 'k8s-pod-network', plugins: [{ type: 'gingham', kubeconfig: nodePaths.kubeconfig, nodename: 'gops-a' }] });
    const version = JSON.parse(await onNode(a, `echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION ${nodePaths.cniPlugin}`)) as { supportedVersions: string[] };
    expect(version.supportedVersions).toContain('1.0.0');
  }, testTimeout);

  it('keeps the agent running as a supervised daemon: a killed agent is started again', async () => {
    const before = await probe(a);
    await onNode(a, `kill -KILL ${before.agentPid}`);
    const deadline = Date.now() + 20_000;
    let after = await probe(a);
    while (!(after.healthy && after.agentPid !== before.agentPid)) {
      if (Date.now() > deadline) throw new Error(`the supervisor did not restart the agent: ${JSON.stringify(after)}`);
      await new Promise((r) => setTimeout(r, 300));
      after = await probe(a);
    }
    expect(after.agentExe).toBe(release(v1));
  }, testTimeout);

  it('a second install changes nothing: no upload, same process', async () => {
    const before = await probe(a);
    const phases: string[] = [];
    const progress: InstallProgress[] = [];
    const result = await install(target(a), v1, (p) => (phases.push(p.phase), progress.push(p)));
    console.log(`unchanged reinstall: ${result.ms} ms (${phaseTimes(progress)})`);
    expect(result).toMatchObject({ phase: 'done', outcome: 'unchanged', nodeState: 'new-agent-running' });
    expect(phases).not.toContain('uploading');
    expect(phases).not.toContain('starting');
    const after = await probe(a);
    expect(after.agentPid).toBe(before.agentPid);
    expect(after.fileHashes).toEqual(before.fileHashes);
  }, testTimeout);

  it('a newer artifact upgrades in place, keeping the previous release for a rollback', async () => {
    const result = await install(target(a), v2, () => undefined, { startWaitSeconds: 30 });
    expect(result, result.message).toMatchObject({ phase: 'done', outcome: 'upgraded', nodeState: 'new-agent-running', version: '2.0.0-test' });
    const p = await probe(a);
    expect(p.agentExe).toBe(release(v2));
    expect(p.version).toBe('2.0.0-test');
    const releases = (await onNode(a, `ls ${nodePaths.releases}`)).trim().split('\n').sort();
    expect(releases).toEqual([v1.manifest.sha256, v2.manifest.sha256].sort());
  }, testTimeout);

  it("a release on the node with a file cut short is uploaded again, even the running agent's own (its files' sizes are checked, not trusted)", async () => {
    const damaged = `${nodePaths.releases}/${v2.manifest.sha256}/native/build/Release/gingham-tunl0`;
    await onNode(a, `truncate -s 100 ${damaged}`);
    const phases: string[] = [];
    const result = await install(target(a), v2, (p) => phases.push(p.phase), { startWaitSeconds: 30 });
    expect(result, result.message).toMatchObject({ phase: 'done', nodeState: 'new-agent-running', version: '2.0.0-test' });
    expect(phases).toContain('uploading');
    const file = v2.manifest.files.find((f) => f.path === 'native/build/Release/gingham-tunl0')!;
    expect((await onNode(a, `sha256sum < ${damaged}`)).split(' ')[0]).toBe(file.sha256);
    expect((await probe(a)).agentExe).toBe(release(v2));
    // Nothing left beside the releases: no damaged copy, no unfinished upload.
    expect((await onNode(a, `ls -A ${nodePaths.releases}`)).trim().split('\n').filter((name) => name.startsWith('.'))).toEqual([]);
  }, testTimeout);

  it("a copy in the nodes' shared cache that does not match is removed, and the node uploads its own", async () => {
    // a's release cut short again (so that it must be put in place), and the cache's upload of it damaged.
    await onNode(a, `truncate -s 100 ${nodePaths.releases}/${v2.manifest.sha256}/native/build/Release/gingham-tunl0; truncate -s 1000 ${nodePaths.cache}/releases/${v2.manifest.sha256}-zstd/gingham-agent.zst`);
    const progress: InstallProgress[] = [];
    const result = await install(target(a), v2, (p) => progress.push(p), { startWaitSeconds: 30 });
    expect(result, result.message).toMatchObject({ phase: 'done', nodeState: 'new-agent-running', version: '2.0.0-test' });
    expect(progress.some((p) => /upload cache failed/.test(p.message))).toBe(true);
    expect(progress.some((p) => p.bytesSent !== undefined && p.bytesSent === p.bytesTotal)).toBe(true);
    expect((await onNode(a, `ls -A ${nodePaths.cache}/releases`)).trim()).not.toContain(v2.manifest.sha256);
    expect((await probe(a)).agentExe).toBe(release(v2));
  }, testTimeout);

  it('the SSH session killed mid-upload leaves the old agent running, says so, and a retry completes', async () => {
    // v2 is in the nodes' shared cache (a's upgrade put it there): gone, it must go up again.
    await onNode(b, `rm -rf ${nodePaths.cache}/releases/*`);
    const before = await probe(b);
    let killed = false;
    const result = await install(target(b), v2, (p) => {
      if (!killed && p.bytesSent !== undefined && p.bytesTotal !== undefined && p.bytesSent > p.bytesTotal / 4 && p.bytesSent < p.bytesTotal) {
        killed = true;
        b.killSessions();
      }
    });
    expect(killed).toBe(true);
    expect(result).toMatchObject({ phase: 'failed', outcome: 'failed', nodeState: 'old-agent-running', retryable: true, version: '1.0.0-test' });
    expect(result.message).toMatch(/dropped while uploading.*as it was: agent 1\.0\.0-test still running/);
    const after = await probe(b);
    expect(after.agentPid).toBe(before.agentPid);
    expect(after.agentExe).toBe(release(v1));
    expect(after.healthy).toBe(true);
    // The unfinished upload, in the cache: the releases are as they were.
    expect(after.incoming).toEqual([]);
    // (Other runs' cut uploads may be there too: the cache is this machine's, shared.)
    const cache = (await onNode(b, `ls -A ${nodePaths.cache}/releases`)).split('\n').filter((name) => name.includes(v2.manifest.sha256));
    expect(cache).toEqual([expect.stringMatching(new RegExp(`^\\.incoming-${v2.manifest.sha256}-zstd-`))]);

    const retry = await install(target(b), v2, () => undefined, { startWaitSeconds: 30 });
    expect(retry, retry.message).toMatchObject({ phase: 'done', outcome: 'upgraded', nodeState: 'new-agent-running' });
    const done = await probe(b);
    expect(done.agentExe).toBe(release(v2));
    expect(done.incoming).toEqual([]);
  }, testTimeout);

  it('the SSH session killed mid-start ends with one whole agent running, and the installer says which', async () => {
    // a runs v2: switch it to v1 and cut every session while activate.sh is restarting the agent.
    let killed = '';
    const watch = async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const state = await onNode(a, `cat ${nodePaths.state} 2>/dev/null`).catch(() => '');
        const phase = /"phase":"(\w+)"/.exec(state)?.[1];
        if ((phase === 'stopping' || phase === 'started') && state.includes(v1.manifest.sha256)) {
          killed = phase;
          a.killSessions();
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    let watching: Promise<void> | undefined;
    const result = await install(target(a), v1, (p) => {
      if (p.phase === 'starting' && !watching) watching = watch();
    }, { startWaitSeconds: 30 });
    await watching;
    expect(killed).not.toBe('');
    console.log(`killed the sessions at ${killed}; the installer said: ${result.message}`);
    expect(result.message).toMatch(/dropped while starting the agent/);
    // Whatever the outcome, it is the truth about the node: one whole agent runs, the one reported.
    const p = await probe(a);
    expect(p.healthy).toBe(true);
    if (result.nodeState === 'new-agent-running') expect(p.agentExe).toBe(release(v1));
    else expect(result.nodeState === 'old-agent-running' && p.agentExe === release(v2)).toBe(true);
    const retry = await install(target(a), v1, () => undefined, { startWaitSeconds: 30 });
    expect(retry.phase).toBe('done');
    expect((await probe(a)).agentExe).toBe(release(v1));
  }, testTimeout);

  it('an agent that does not come up is rolled back to the previous release and configuration', async () => {
    const before = await probe(a);
    // An address no interface has: the agent exits at start-up, over and over.
    const result = await install(target(a, { address: '10.254.254.254/24' }), v1, () => undefined, { startWaitSeconds: 5 });
    expect(result).toMatchObject({ phase: 'failed', nodeState: 'old-agent-running', retryable: true });
    expect(result.message).toMatch(/did not answer.*previous agent runs again/);
    const after = await probe(a);
    expect(after.healthy).toBe(true);
    expect(after.fileHashes).toEqual(before.fileHashes);
    expect(await onNode(a, `cat ${nodePaths.config}`)).toContain(a.address);
  }, testTimeout);

  it('uninstall stops the agent and removes everything it added; a second uninstall finds nothing', async () => {
    const results = await Promise.all([a, b].map((node) => uninstallFromNode(target(node), () => undefined)));
    for (const result of results) expect(result, result.message).toMatchObject({ phase: 'done', outcome: 'uninstalled', nodeState: 'no-agent' });
    for (const node of [a, b]) {
      // Every folder empty (they are this node's mount points), and no Gingham process in its namespace.
      expect(await onNode(node, `find ${cniDirs.join(' ')} -type f`)).toBe('');
      expect((await onNode(node, `ls -A ${installedDirs.join(' ')}`)).split('\n').filter((line) => line && !line.endsWith(':'))).toEqual([]);
      expect(gopsProcesses(node)).toEqual([]);
      expect((await probe(node)).current).toBe('');
    }
    expect(await uninstallFromNode(target(a), () => undefined)).toMatchObject({ outcome: 'not-installed' });
  }, testTimeout);

  it('the SSH session killed mid-upload on a fresh node leaves no agent, and says so', async () => {
    let killed = false;
    const result = await install(target(a), v1, (p) => {
      if (!killed && p.bytesTotal !== undefined && (p.bytesSent ?? 0) > p.bytesTotal / 3) {
        killed = true;
        a.killSessions();
      }
    });
    expect(result).toMatchObject({ phase: 'failed', nodeState: 'no-agent', retryable: true });
    expect(result.message).toMatch(/as it was: no agent installed/);
    const p = await probe(a);
    expect(p.current).toBe('');
    expect(p.agentPid).toBeUndefined();
  }, testTimeout);
});
