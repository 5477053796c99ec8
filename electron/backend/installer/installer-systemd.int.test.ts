// The installer on a node that runs systemd: a real systemd booted as the node's init (in a PID
// and mount namespace of the node's own, with sshd as one of its services) and a real API server.
// Install writes the unit and starts the agent under systemd, a second install changes nothing,
// systemd restarts a killed agent, and uninstall stops it, disables the unit and removes it.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlaneDown, controlPlaneUp, type ControlPlane } from '../../../lab/controlplane/controlplane.ts';
import { startSshdNode, type SshdNode } from '../../../lab/testing/sshd-node.ts';
import { applyAgentManifests, requestAgentToken } from './agent-credential.ts';
import { loadArtifact, type AgentArtifact } from './artifact.ts';
import { installOnNode, parseProbe, uninstallFromNode, type ClusterAccess, type InstallTarget } from './install-node.ts';
import { nodePaths, probeScript } from './node-scripts.ts';
import { buildAgentArtifact, connectTo, onNode, privateDirs } from './testing/install-fixture.ts';

let dir: string;
let artifact: AgentArtifact;
let node: SshdNode;
let controlPlane: ControlPlane;
let cluster: ClusterAccess;
const name = 'gsys-a';
const testTimeout = 600_000;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gsys-install-'));
  await buildAgentArtifact(path.join(dir, 'agent'), '1.0.0-systemd');
  artifact = loadArtifact(path.join(dir, 'agent'));
  node = await startSshdNode(0, { prefix: 'gsys', subnet: '100.64.218', privateDirs, systemd: true });
  controlPlane = await controlPlaneUp({ stateDir: path.join(dir, 'controlplane'), address: node.hostAddress });
  const admin = new KubeConfig();
  admin.loadFromFile(controlPlane.kubeconfig);
  await admin.makeApiClient(CoreV1Api).createNode({
    body: { metadata: { name, annotations: { 'projectcalico.org/IPv4Address': `${node.address}/30` } }, status: { addresses: [{ type: 'InternalIP', address: node.address }] } },
  });
  cluster = { applyManifests: (yaml) => applyAgentManifests(admin, yaml), agentKubeconfig: (nodeName: string) => requestAgentToken(admin, undefined, nodeName) };
}, 600_000);

afterAll(async () => {
  await node?.stop();
  if (controlPlane) await controlPlaneDown(controlPlane.stateDir, true);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const target: () => InstallTarget = () => ({ nodeId: name, label: name, connect: () => connectTo(node), config: { nodeName: name, address: `${node.address}/30` } });
const probe = async () => parseProbe(await onNode(node, probeScript));
const systemctl = (args: string) => onNode(node, `systemctl ${args} 2>&1; true`).then((out) => out.trim());

describe('agent installer on a systemd node', () => {
  it('finds systemd, installs the unit and runs the agent as its service', async () => {
    const before = await probe();
    expect(before.init).toBe('systemd');
    const result = await installOnNode(target(), artifact, cluster, () => undefined, { startWaitSeconds: 60 });
    expect(result, result.message).toMatchObject({ phase: 'done', outcome: 'installed', nodeState: 'new-agent-running' });
    expect(await systemctl('is-enabled gingham-agent')).toBe('enabled');
    expect(await systemctl('is-active gingham-agent')).toBe('active');
    const mainPid = await systemctl('show -p MainPID --value gingham-agent');
    const after = await probe();
    expect(after.healthy).toBe(true);
    // The probe names systemd's main process, and it runs this release's executable.
    expect(String(after.agentPid)).toBe(mainPid);
    expect(after.agentExe).toBe(`${nodePaths.releases}/${artifact.manifest.sha256}/gingham-agent`);
    // Not the supervisor: systemd does its job here.
    expect(await onNode(node, `[ -f ${nodePaths.run}/supervisor.pid ] && echo supervised || echo none`)).toBe('none\n');
    expect(await onNode(node, `stat -c %a ${nodePaths.run}`)).toBe('700\n');
  }, testTimeout);

  it('a second install changes nothing', async () => {
    const pid = await systemctl('show -p MainPID --value gingham-agent');
    const result = await installOnNode(target(), artifact, cluster, () => undefined);
    expect(result, result.message).toMatchObject({ phase: 'done', outcome: 'unchanged' });
    expect(await systemctl('show -p MainPID --value gingham-agent')).toBe(pid);
  }, testTimeout);

  it('systemd starts a killed agent again', async () => {
    const pid = await systemctl('show -p MainPID --value gingham-agent');
    await onNode(node, `kill -KILL ${pid}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = await probe();
      if (now.healthy && now.agentPid && String(now.agentPid) !== pid) break;
      if (Date.now() > deadline) throw new Error(`systemd did not restart the agent: ${await systemctl('status gingham-agent --no-pager')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, testTimeout);

  it('uninstall stops the service, disables and removes the unit, and leaves no agent process', async () => {
    const result = await uninstallFromNode(target(), () => undefined);
    expect(result, result.message).toMatchObject({ phase: 'done', outcome: 'uninstalled', nodeState: 'no-agent' });
    expect(await onNode(node, `[ -e ${nodePaths.unit} ] && echo present || echo gone`)).toBe('gone\n');
    expect(await systemctl('is-active gingham-agent')).not.toBe('active');
    const agents = execFileSync('ip', ['netns', 'pids', node.netns], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .filter((pid) => {
        try {
          return execFileSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).includes('gingham');
        } catch {
          return false;
        }
      });
    expect(agents).toEqual([]);
  }, testTimeout);
});
