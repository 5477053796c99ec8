// The install script the lab runs over SSH: the agent's token kubeconfig goes into a root-only
// file through the script (stdin), the CNI plugin and configuration where a runtime looks, and a
// second run leaves a running agent alone.
import { describe, expect, it } from 'vitest';
import { agentPaths, installScript } from './agent-install.ts';

const kubeconfig = 'apiVersion: v1\nkind: Config\nusers: [{ name: a, user: { token: secret-token } }]\n';

describe('agent install script', () => {
  const script = installScript('worker-1', kubeconfig, true);

  it('writes the kubeconfig root-only, the configuration for this node, and the CNI plugin', () => {
    expect(script).toContain(`cat > ${agentPaths.kubeconfig} <<'GINGHAM_LAB_EOF'\n${kubeconfig}GINGHAM_LAB_EOF\nchmod 0600 ${agentPaths.kubeconfig}`);
    expect(script).toMatch(/nodeName: worker-1\nkubeconfig: \/etc\/gingham\/kubeconfig\nautodetect: interface=ens5/);
    expect(script).toContain(`exec ${agentPaths.launcher} cni`);
    expect(script).toContain('"nodename": "worker-1"');
    expect(script.startsWith('set -eu')).toBe(true);
  });

  it('starts the supervisor detached only when none runs, and not at all when asked not to', () => {
    expect(script).toMatch(/if \[ -f \/run\/gingham\/supervisor.pid \] && kill -0/);
    expect(script).toContain(`setsid ${agentPaths.supervisor} >> ${agentPaths.log} 2>&1 < /dev/null &`);
    expect(installScript('worker-1', kubeconfig, false)).not.toContain('setsid');
  });

  it('refuses content that would end its heredoc early', () => {
    expect(() => installScript('worker-1', 'x\nGINGHAM_LAB_EOF\nrm -rf /\n', true)).toThrow(/heredoc marker/);
  });
});
