// The DaemonSet pod's entrypoint, run by a real shell against a stand-in host root (a temporary
// directory in place of the host's /): what it says when the host has no agent, and the agent
// configuration it writes, read with the agent's own schema. The pod itself needs a kubelet and a
// container runtime, which this machine has not; daemonset.int.test.ts checks the manifest and
// the pod's credential against a real kube-apiserver.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentRunConfigSchema } from '../../shared/api/agent-contract.ts';
import { agentDaemonSet, daemonSetEntrypoint } from './daemonset.ts';

let host: string;
afterEach(() => rmSync(host, { recursive: true, force: true }));

function entrypoint(env: Record<string, string>) {
  return spawnSync('/bin/sh', ['-c', daemonSetEntrypoint()], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });
}

describe("the agent's DaemonSet", () => {
  it('says what to do when the host has no agent, and writes nothing', () => {
    host = mkdtempSync(path.join(tmpdir(), 'gds-'));
    const run = entrypoint({ HOST: host, NODE_NAME: 'worker-1', API_SERVER: 'https://10.240.1.10:6443' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/no agent on worker-1 at \/opt\/gingham\/current\/gingham-agent: install it there first/);
    expect(spawnSync('find', [host, '-type', 'f']).stdout.toString()).toBe('');
  });

  it("writes a configuration the agent's schema takes (this node, the pod's token and CA), then runs the host's agent in the host's root", () => {
    host = mkdtempSync(path.join(tmpdir(), 'gds-'));
    const agent = path.join(host, 'opt/gingham/current/gingham-agent');
    mkdirSync(path.dirname(agent), { recursive: true });
    // Not runnable inside the stand-in root (it has no /bin/sh): chroot fails after the config is written.
    writeFileSync(agent, '#!/bin/sh\n');
    chmodSync(agent, 0o755);
    const run = entrypoint({ HOST: host, NODE_NAME: 'worker-1', API_SERVER: 'https://10.240.1.10:6443' });
    expect(run.stderr).toMatch(/chroot: failed to run command '\/opt\/gingham\/current\/gingham-agent'/);
    const config = agentRunConfigSchema.parse(parse(readFileSync(path.join(host, 'run/gingham/daemonset/agent.yaml'), 'utf8')));
    expect(config).toMatchObject({
      nodeName: 'worker-1',
      token: { server: 'https://10.240.1.10:6443', caFile: '/run/gingham/daemonset/serviceaccount/ca.crt', tokenFile: '/run/gingham/daemonset/serviceaccount/token' },
    });
    // The pod mounts its projected token where the configuration says, inside the host's root.
    const pod = (agentDaemonSet({ server: 'https://10.240.1.10:6443' }) as { spec: { template: { spec: { containers: Array<{ volumeMounts: Array<{ name: string; mountPath: string }> }> } } } }).spec.template.spec;
    expect(pod.containers[0]!.volumeMounts).toContainEqual(expect.objectContaining({ name: 'token', mountPath: `/host${path.dirname(config.token!.tokenFile)}` }));
  });

  it('refuses an API server that is not an https URL, saying what it got', () => {
    for (const bad of ['10.240.1.10:6443', 'http://10.240.1.10:6443', 'https://', 'https://x:6443\nnodeName: other']) {
      expect(() => agentDaemonSet({ server: bad })).toThrow(/the API server must be an https URL the nodes reach/);
    }
    const spec = agentDaemonSet({ server: 'https://10.240.1.10:6443/' }) as { spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } } };
    expect(spec.spec.template.spec.containers[0]!.env).toContainEqual({ name: 'API_SERVER', value: 'https://10.240.1.10:6443' });
  });
});
