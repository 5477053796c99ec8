// What the agent and those who install it (the console's installer, the lab) must agree on: where
// the agent's files live on a node, the identity it has in the cluster, and its configuration
// file's schema. Installers write the configuration through this schema, so a field the agent
// would refuse is refused before it reaches a node.
import { z } from 'zod';
import { isIPv4, parseInterfaceAddress } from '../net/index.ts';

/** The agent's files on a node (FHS: programs in /opt, configuration in /etc, state in /var/lib, sockets in /run). */
export const agentNodeLayout = {
  opt: '/opt/gingham',
  bin: '/opt/gingham/bin',
  etc: '/etc/gingham',
  /** The agent's configuration, `gingham-agent run --config` (agentRunConfigSchema). */
  config: '/etc/gingham/agent.yaml',
  /** The agent's own kubeconfig: a ServiceAccount token, never the admin's credentials. */
  kubeconfig: '/etc/gingham/kubeconfig',
  lib: '/var/lib/gingham',
  agentLog: '/var/lib/gingham/agent.log',
  /** Root-only (0700): the control socket and the agent's runtime files. */
  run: '/run/gingham',
  /** The agent's JSON-RPC socket, root-only (0600). */
  control: '/run/gingham/agent.sock',
} as const;

/** The agent's identity in the cluster: its namespace and ServiceAccount (RBAC in agent/manifests). */
export const agentIdentity = { namespace: 'gingham-system', serviceAccount: 'gingham-agent' } as const;

/**
 * How the agent finds its node's interface and address, as Calico's IP_AUTODETECTION_METHOD:
 * first-found, interface=REGEX, can-reach=IP (or an explicit `address`).
 */
const autodetectSchema = z
  .union([
    z.literal('first-found'),
    z.string().regex(/^interface=.+$/, { error: 'interface=REGEX picks the first interface whose name matches' }),
    z.string().regex(/^can-reach=.+$/, { error: 'can-reach=IP picks the interface the kernel routes that address through' }),
  ])
  .default('first-found');

export const agentRunConfigSchema = z
  .strictObject({
    nodeName: z.string().min(1).meta({ description: "This node's name as Kubernetes knows it." }),
    kubeconfig: z.string().min(1).optional().meta({ description: "The agent's kubeconfig (gingham-agent credential writes one)." }),
    token: z
      .strictObject({ server: z.url(), caFile: z.string().min(1), tokenFile: z.string().min(1) })
      .optional()
      .meta({ description: 'Instead of a kubeconfig: the API server, its CA and a ServiceAccount token file.' }),
    autodetect: autodetectSchema,
    /** The node's address with its prefix length; skips autodetection when set (the interface is still looked up). */
    address: z
      .string()
      .refine((text) => {
        try {
          parseInterfaceAddress(text);
          return true;
        } catch {
          return false;
        }
      }, { error: 'must be the node address with its prefix length, such as 10.240.1.11/24' })
      .optional(),
    /** The control socket for `status` and `routes`. */
    control: z.string().default(agentNodeLayout.control),
    /** Use the user-space tunl0 even where the kernel has the ipip module. */
    userspaceIpip: z.boolean().default(false),
    /** Tuning for tests: how long the server may keep one watch open. */
    watchTimeoutSeconds: z.int().min(1).max(3600).default(300),
  })
  .refine((c) => (c.kubeconfig === undefined) !== (c.token === undefined), { error: 'give exactly one of kubeconfig and token', path: ['kubeconfig'] })
  .refine((c) => !c.autodetect.startsWith('can-reach=') || isIPv4(c.autodetect.slice('can-reach='.length)), {
    error: 'can-reach= needs an IPv4 address',
    path: ['autodetect'],
  });

export type AgentRunConfigInput = z.input<typeof agentRunConfigSchema>;
export type AgentRunConfig = z.output<typeof agentRunConfigSchema>;
