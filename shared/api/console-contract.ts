// The console API: every request the renderer may make of the backend, every one-way message it
// may send, and every event the backend may push. One contract, two transports (Electron IPC and
// WebSocket); both validate every message against these schemas at the boundary.
import { z } from 'zod';
import { agentInstallEvents, agentInstallRequests } from './agent-install.ts';
import { captureEvents, captureNotifications, captureRequests } from './capture-contract.ts';
import { clusterOpsRequests } from './cluster-ops-contract.ts';
import { doctorRequests } from './doctor-contract.ts';
import { measureRequests } from './measure-contract.ts';
import { migrationEvents, migrationRequests } from './migration-contract.ts';
import { reflectorsEvents, reflectorsRequests } from './reflectors-contract.ts';
import { nodeStatusEvents, nodeStatusRequests } from './node-status-contract.ts';
import { routingConfigRequests } from './routing-config-contract.ts';
import { switchEvents, switchRequests } from './switch-contract.ts';

const name = z.string().min(1).max(253);
const hostName = z.string().min(1).max(255).regex(/^[^\s@]+$/, 'a host name or address without spaces or @');
const port = z.number().int().min(1).max(65535);
const id = z.string().min(1).max(128);
/** Terminal sizes that xterm.js can produce; bounds keep a hostile peer from asking for absurd PTYs. */
const cols = z.number().int().min(2).max(1000);
const rows = z.number().int().min(1).max(500);

// ---- clusters (kubeconfig) -------------------------------------------------------------------

export const KubeconfigSource = z.object({
  path: z.string(),
  state: z.enum(['loaded', 'missing', 'error']),
  message: z.string().optional(),
});
export type KubeconfigSource = z.infer<typeof KubeconfigSource>;

export const KubeContext = z.object({
  name,
  cluster: z.string(),
  user: z.string(),
  namespace: z.string().optional(),
  /** The API server URL of the context's cluster, when the cluster entry exists. */
  server: z.string().optional(),
  /** The file this context was read from. */
  source: z.string(),
});
export type KubeContext = z.infer<typeof KubeContext>;

export const NodeAddress = z.object({ type: z.string(), address: z.string() });

export const ClusterNode = z.object({
  name,
  addresses: z.array(NodeAddress),
  ready: z.boolean(),
  roles: z.array(z.string()),
  kubeletVersion: z.string().optional(),
  /** topology.kubernetes.io/zone, for the topology view's groups. */
  zone: z.string().optional(),
});
export type ClusterNode = z.infer<typeof ClusterNode>;

// ---- nodes reached by SSH --------------------------------------------------------------------

export const SshNode = z.object({
  id,
  /** What the user calls it: an ~/.ssh/config alias, a cluster node name, or the host itself. */
  name: z.string().min(1).max(255),
  host: hostName,
  port: port.optional(),
  user: z.string().min(1).max(64).optional(),
  /** Path of a private key file on the machine the backend runs on. */
  identityFile: z.string().max(4096).optional(),
});
export type SshNode = z.infer<typeof SshNode>;

export const HostKeyPrompt = z.object({
  promptId: id,
  host: z.string(),
  port,
  algorithm: z.string(),
  /** OpenSSH's form: SHA256:<unpadded base64>. */
  fingerprint: z.string(),
});
export type HostKeyPrompt = z.infer<typeof HostKeyPrompt>;

export const SshConnectResult = z.discriminatedUnion('state', [
  z.object({ state: z.literal('connected'), fingerprint: z.string(), algorithm: z.string() }),
  z.object({ state: z.literal('host-key-unknown'), prompt: HostKeyPrompt }),
]);
export type SshConnectResult = z.infer<typeof SshConnectResult>;

// ---- the contract ------------------------------------------------------------------------------

/** Requests: one answer each. */
export const requests = {
  'app.info': {
    params: z.object({}),
    result: z.object({
      version: z.string(),
      knownHostsPath: z.string(),
      platform: z.string(),
      /** The lab that `npm start` brought up, which the console lands on: its context and its SSH nodes' ids. */
      lab: z.object({ context: z.string().optional(), nodeIds: z.array(id) }).optional(),
    }),
  },
  'contexts.list': {
    params: z.object({}),
    result: z.object({
      contexts: z.array(KubeContext),
      currentContext: z.string().optional(),
      sources: z.array(KubeconfigSource),
    }),
  },
  'contexts.connect': {
    params: z.object({ context: name }),
    result: z.object({ context: name, serverVersion: z.string(), server: z.string(), nodes: z.array(ClusterNode) }),
  },
  'nodes.list': {
    params: z.object({}),
    result: z.object({ nodes: z.array(SshNode) }),
  },
  'nodes.add': {
    params: z.object({
      name: z.string().min(1).max(255).optional(),
      host: hostName,
      port: port.optional(),
      user: z.string().min(1).max(64).optional(),
      identityFile: z.string().min(1).max(4096).optional(),
    }),
    result: SshNode,
  },
  'nodes.remove': {
    params: z.object({ nodeId: id }),
    result: z.object({ removed: z.boolean() }),
  },
  'ssh.connect': {
    params: z.object({ nodeId: id }),
    result: SshConnectResult,
  },
  'ssh.trustHostKey': {
    params: z.object({ promptId: id }),
    result: z.object({ knownHostsPath: z.string(), fingerprint: z.string() }),
  },
  'ssh.disconnect': {
    params: z.object({ nodeId: id }),
    result: z.object({ disconnected: z.boolean() }),
  },
  'terminal.open': {
    params: z.object({ nodeId: id, cols, rows }),
    result: z.object({ terminalId: id }),
  },
  'terminal.close': {
    params: z.object({ terminalId: id }),
    result: z.object({ closed: z.boolean() }),
  },
  ...captureRequests,
  ...agentInstallRequests,
  ...clusterOpsRequests,
  ...doctorRequests,
  ...measureRequests,
  ...migrationRequests,
  ...nodeStatusRequests,
  ...reflectorsRequests,
  ...routingConfigRequests,
  ...switchRequests,
} as const;

/** One-way messages from the renderer: high-rate, so no answer. */
export const notifications = {
  'terminal.input': z.object({ terminalId: id, data: z.string().max(1 << 20) }),
  'terminal.resize': z.object({ terminalId: id, cols, rows }),
  /** The renderer has drawn this many bytes of terminal output; see flow-control.ts. */
  'terminal.ack': z.object({ terminalId: id, bytes: z.number().int().min(0) }),
  ...captureNotifications,
} as const;

/** Events pushed by the backend. */
export const events = {
  /** Terminal output, never splitting a UTF-8 character; `bytes` is its UTF-8 length, the unit of acks. */
  'terminal.data': z.object({ terminalId: id, data: z.string(), bytes: z.number().int().min(0) }),
  'terminal.exit': z.object({ terminalId: id, reason: z.string(), exitCode: z.number().int().optional() }),
  'ssh.status': z.object({
    nodeId: id,
    state: z.enum(['connected', 'disconnected']),
    reason: z.string().optional(),
  }),
  ...captureEvents,
  ...agentInstallEvents,
  ...nodeStatusEvents,
  ...migrationEvents,
  ...reflectorsEvents,
  ...switchEvents,
} as const;

export type RequestMethod = keyof typeof requests;
export type NotificationMethod = keyof typeof notifications;
export type EventName = keyof typeof events;
export type RequestParams<M extends RequestMethod> = z.input<(typeof requests)[M]['params']>;
export type RequestResult<M extends RequestMethod> = z.output<(typeof requests)[M]['result']>;
export type NotificationParams<M extends NotificationMethod> = z.input<(typeof notifications)[M]>;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

export function isRequestMethod(value: unknown): value is RequestMethod {
  return typeof value === 'string' && Object.hasOwn(requests, value);
}
export function isNotificationMethod(value: unknown): value is NotificationMethod {
  return typeof value === 'string' && Object.hasOwn(notifications, value);
}
export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && Object.hasOwn(events, value);
}

/** What a backend implements: one function per request, one per notification. */
export type RequestHandlers = { [M in RequestMethod]: (params: z.output<(typeof requests)[M]['params']>) => Promise<RequestResult<M>> };
export type NotificationHandlers = { [M in NotificationMethod]: (params: z.output<(typeof notifications)[M]>) => void };
export type EventEmitter = <E extends EventName>(event: E, payload: EventPayload<E>) => void;
