// Where a container runtime finds the agent's CNI plugin and the pod network's configuration, and
// what that configuration says. The lab and the console's installer write these same files, so a
// node's pods are plumbed alike whoever installed the agent (Calico's install-cni writes
// /opt/cni/bin/calico and 10-calico.conflist the same way).

export const cniPaths = {
  /** The plugin a runtime runs for `"type": "gingham"`: a shim that runs the installed agent's `cni` command. */
  plugin: '/opt/cni/bin/gingham',
  /** The network configuration a runtime reads (the lowest-sorting file in net.d wins). */
  config: '/etc/cni/net.d/10-gingham.conflist',
} as const;

/** Calico's network name: runtimes and kubelet logs show it. */
export const podNetworkName = 'k8s-pod-network';

/** The conflist: the agent's kubeconfig (never an admin's) and the node's name, as the plugin's netConf reads them. */
export function cniConflist(fields: { kubeconfig: string; nodeName: string }): string {
  const conflist = {
    cniVersion: '1.0.0',
    name: podNetworkName,
    plugins: [{ type: 'gingham', kubeconfig: fields.kubeconfig, nodename: fields.nodeName }],
  };
  return JSON.stringify(conflist, null, 2) + '\n';
}

/** The plugin shim: `exec` keeps the runtime's stdin, environment and exit status for the agent's `cni` command. */
export function cniPluginShim(agentExecutable: string, writtenBy: string): string {
  return `#!/bin/sh\n# ${writtenBy}: the Gingham agent's CNI plugin.\nexec ${agentExecutable} cni\n`;
}
