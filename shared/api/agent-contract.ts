// What the agent and those who install it (the console's installer, the lab) must agree on: where
// the agent's files live on a node, the identity it has in the cluster, and its configuration
// file's schema. Installers write the configuration through this schema, so a field the agent
// would refuse is refused before it reaches a node.
import { z } from 'zod';
import { dataplaneStateSchema } from '../model/dataplane-state.ts';
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

/**
 * The Node label that says the Gingham agent is this node's network agent: calico-node's
 * DaemonSet keeps off nodes that carry it (the migration sets it), and the agent's DaemonSet runs
 * only on them.
 */
export const networkAgentLabel = { key: 'gingham.dev/network-agent', value: 'gingham' } as const;

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

// ---- the control socket's methods ---------------------------------------------------------------
// JSON-RPC 2.0 over the root-only socket (one object per line). The agent's server checks every
// call's params against these schemas, and every caller (the CLI, the lab, the console over SSH)
// checks the answer, so a console and an agent of different versions say so instead of misreading.
// Results are loose objects: a newer agent may add fields an older caller ignores.

export const RouteOwnerInfo = z.looseObject({ kind: z.string(), text: z.string() });

/** One kernel route as `route -n` shows it, with who made it and why. */
export const RouteRow = z.object({
  destination: z.string(),
  gateway: z.string(),
  genmask: z.string(),
  flags: z.string(),
  metric: z.number(),
  iface: z.string(),
  protocol: z.number(),
  /** Why Gingham made it (pool, mode, block, pod); null for routes that are not Gingham's or when read without the agent. */
  owner: RouteOwnerInfo.nullable(),
  ginghams: z.boolean(),
});
export type RouteRow = z.infer<typeof RouteRow>;

/** A BGP session as `calicoctl node status` lists it, and what the speaker knows of it. */
export const PeerStatusView = z.looseObject({
  address: z.string(),
  port: z.number().optional(),
  asn: z.number().optional(),
  type: z.string(),
  state: z.string(),
  since: z.string(),
  info: z.string(),
  received: z.number().optional(),
  advertised: z.number().optional(),
  lastError: z.string().optional(),
});

export const SpeakerStatusView = z.looseObject({
  routerId: z.string().optional(),
  asn: z.number().optional(),
  peers: z.array(PeerStatusView),
  /** Why BGP is not running (only VXLAN pools), when it is not. */
  reason: z.string().optional(),
  /** BGPPeers left out, and why (an unreadable password Secret), by name; never the passwords. */
  leftOut: z.record(z.string(), z.string()).optional(),
});

export const RibRouteView = z.looseObject({
  prefix: z.string(),
  paths: z.array(z.looseObject({ best: z.boolean(), from: z.string(), nextHop: z.string(), asPath: z.string(), stale: z.boolean() })),
});

const agentBgpSummary = z.union([
  z.looseObject({
    running: z.literal(true),
    asn: z.number(),
    peers: z.array(z.looseObject({ address: z.string(), state: z.string(), info: z.string().optional(), type: z.string().optional(), since: z.string().optional() })),
    leftOut: z.record(z.string(), z.string()).optional(),
  }),
  z.looseObject({ running: z.literal(false), reason: z.string(), leftOut: z.record(z.string(), z.string()).optional() }),
]);

/** `status`: the node agent's whole state, as `gingham-agent node-status` prints it. */
export const AgentStatus = z.looseObject({
  node: z.string(),
  address: z.string().optional(),
  interface: z.string().optional(),
  datastore: z.looseObject({ synced: z.boolean().optional(), connected: z.boolean() }),
  bgp: agentBgpSummary,
  /** The reconciler's last pass. */
  dataplane: z.looseObject({ changes: z.number(), failures: z.array(z.unknown()), ms: z.number() }).optional(),
  /** The desired state the agent computed; the console plans previews from it. */
  state: dataplaneStateSchema.optional(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

const prefixParams = z.object({ prefix: z.string().min(1) });
/** A peer as the speaker configuration file's `peers` entries (agent/bgp/config.ts checks the rest). */
const peerParams = z.object({ peer: z.looseObject({ address: z.string().min(1) }) });
const none = z.undefined();

/** Every method, its params and its result. */
export const agentMethods = {
  status: { params: none, result: AgentStatus },
  routes: { params: none, result: z.array(RouteRow) },
  'bgp.status': { params: none, result: SpeakerStatusView },
  'bgp.routes': {
    params: z.object({ limit: z.int().min(1).max(100_000_000).optional() }).optional(),
    result: z.looseObject({ total: z.number(), routes: z.array(RibRouteView) }),
  },
  'bgp.announce': { params: prefixParams, result: z.object({ announced: z.string() }) },
  'bgp.withdraw': { params: prefixParams, result: z.object({ withdrawn: z.boolean() }) },
  'bgp.addPeer': { params: peerParams, result: PeerStatusView },
  'bgp.updatePeer': { params: peerParams, result: z.object({ result: z.enum(['unchanged', 'updated', 'reset']) }) },
  'bgp.removePeer': { params: z.object({ address: z.string().min(1), port: z.int().min(1).max(65535).optional() }), result: z.object({ removed: z.boolean() }) },
  'bgp.setPeers': {
    params: z.object({ peers: z.array(z.looseObject({ address: z.string().min(1) })) }),
    result: z.looseObject({ added: z.array(z.string()), removed: z.array(z.string()), updated: z.array(z.string()), reset: z.array(z.string()), unchanged: z.array(z.string()) }),
  },
} as const;

/** A table of methods: what an RPC server serves and its clients check. */
export type RpcMethodTable = Record<string, { params: z.ZodType; result: z.ZodType }>;
export type AgentMethods = typeof agentMethods;
export type AgentMethod = keyof AgentMethods;
export type MethodParams<T extends RpcMethodTable, M extends keyof T> = z.input<T[M]['params']>;
export type MethodResult<T extends RpcMethodTable, M extends keyof T> = z.output<T[M]['result']>;

/**
 * Checks an agent's answer against the method's result schema. A mismatch means the agent and its
 * caller come from different versions: the error says which field, and what to do.
 */
export function checkAgentAnswer<M extends AgentMethod>(method: M, answer: unknown): MethodResult<AgentMethods, M> {
  const checked = agentMethods[method].result.safeParse(answer);
  if (checked.success) return checked.data as MethodResult<AgentMethods, M>;
  const problems = checked.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(the answer)'}: ${issue.message}`).join('; ');
  throw new Error(`the agent's answer to ${method} does not match this caller's contract (${problems}): is the agent another version? Install this version's agent on the node.`);
}
