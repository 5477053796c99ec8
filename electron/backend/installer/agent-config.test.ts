// The console's installer writes the agent's configuration through the agent's own schema, with
// the one node layout the agent and the lab use.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentNodeLayout, agentRunConfigSchema } from '../../../shared/api/agent-contract.ts';
import { installScript } from '../../../lab/nodes/agent-install.ts';
import { agentConfigYaml } from './agent-credential.ts';

describe("the agent's configuration as the installers write it", () => {
  it('is what the agent accepts, pointing at the shared layout', () => {
    const written = parse(agentConfigYaml({ nodeName: 'worker-1', address: '10.240.1.11/24' }));
    expect(agentRunConfigSchema.parse(written)).toMatchObject({ kubeconfig: agentNodeLayout.kubeconfig, control: agentNodeLayout.control });
  });

  it('refuses what the agent would refuse, before anything reaches the node', () => {
    expect(() => agentConfigYaml({ nodeName: 'worker-1', address: '10.240.1.11' })).toThrow(/address: must be the node address with its prefix length/);
    expect(() => agentConfigYaml({ nodeName: 'worker-1', autodetect: 'can-reach=nowhere' })).toThrow(/can-reach= needs an IPv4 address/);
  });

  it('is the same layout in the lab, so a lab node and a console-installed node look alike', () => {
    const script = installScript('worker-1', 'apiVersion: v1\n', false);
    expect(script).toContain(`cat > ${agentNodeLayout.kubeconfig} <<`);
    expect(script).toContain(`kubeconfig: ${agentNodeLayout.kubeconfig}`);
  });
});
