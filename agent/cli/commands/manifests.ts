// `gingham-agent manifests` prints what an admin applies before the agent runs (CRDs the cluster
// lacks, namespace, ServiceAccount, least-privilege RBAC); `gingham-agent credential` writes the
// agent's token kubeconfig through the TokenRequest API.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { agentDaemonSet } from '../../manifests/daemonset.ts';
import { agentManifests } from '../../manifests/manifests.ts';

// client-node loads in seconds: only the commands that talk to the cluster load it.
const clientNode = () => import('@kubernetes/client-node');

async function existingCrds(kubeconfig: string): Promise<Set<string>> {
  const { ApiextensionsV1Api, KubeConfig } = await clientNode();
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const list = await config.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
  return new Set(list.items.map((crd) => crd.metadata?.name ?? ''));
}

async function serverOf(kubeconfig: string): Promise<string | undefined> {
  const { KubeConfig } = await clientNode();
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  return config.getCurrentCluster()?.server;
}

export function registerManifestCommands(program: Command): void {
  program
    .command('manifests')
    .description('print the YAML to apply with kubectl before the agent runs (CRDs where missing, namespace, ServiceAccount, RBAC)')
    .option('--kubeconfig <file>', "read the cluster's CRDs and leave out those it already has")
    .option('--no-crds', 'leave out every CRD (a cluster that runs Calico has them)')
    .option('--daemonset', 'add the DaemonSet that runs the agent on every node labelled gingham.dev/network-agent=gingham, from the executable already on the host (docs/install.md)')
    .option('--server <url>', "the API server as the nodes reach it, for the DaemonSet (default: the --kubeconfig's server)")
    .option('--image <image>', "the DaemonSet pod's image: it needs only sh, cat and chroot (default busybox:1.36)")
    .action(async (options: { kubeconfig?: string; crds: boolean; daemonset?: boolean; server?: string; image?: string }) => {
      const existing = options.kubeconfig ? await existingCrds(options.kubeconfig) : undefined;
      const objects = agentManifests({ includeCrds: options.crds, ...(existing ? { existingCrds: existing } : {}) });
      if (options.daemonset) {
        const server = options.server ?? (options.kubeconfig ? await serverOf(options.kubeconfig) : undefined);
        if (!server) {
          console.error('gingham-agent: --daemonset needs the API server the nodes reach: give --server https://HOST:6443 or --kubeconfig FILE');
          process.exit(2);
        }
        try {
          objects.push(agentDaemonSet({ server, ...(options.image ? { image: options.image } : {}) }));
        } catch (error) {
          console.error(`gingham-agent: ${(error as Error).message}`);
          process.exit(2);
        }
      }
      process.stdout.write(objects.map((o) => stringify(o)).join('---\n'));
    });

  program
    .command('credential')
    .description("write the agent's kubeconfig: a ServiceAccount token from the TokenRequest API, the CA, the server; nothing of the requester's own credentials")
    .requiredOption('--kubeconfig <file>', 'whose identity asks for the token (the installer’s, or the agent’s own to renew it)')
    .requiredOption('--out <file>', 'where to write the agent kubeconfig (mode 0600)')
    .option('--duration <seconds>', 'token lifetime in seconds', (v) => Number(v), 86400)
    .option('--node <name>', "bind the token to this Node: the agent may then write that node's status, and no other's")
    .action(async (options: { kubeconfig: string; out: string; duration: number; node?: string }) => {
      const [{ KubeConfig }, { mintAgentCredential }] = await Promise.all([clientNode(), import('../../manifests/credential.ts')]);
      const config = new KubeConfig();
      config.loadFromFile(options.kubeconfig);
      const credential = await mintAgentCredential(config, options.duration, options.node);
      writeFileSync(options.out, credential.kubeconfig, { mode: 0o600 });
      console.error(`wrote ${options.out}; the token expires at ${credential.expiresAt}`);
    });
}
