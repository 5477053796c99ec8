// One CNI invocation as the CNI 1.0 spec defines it: the command and the container in
// environment variables, the network configuration as JSON on stdin. Mistakes become CNI errors
// with the spec's codes, naming the variable or field to fix.
import { z } from 'zod';

export const supportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;

/** The spec's well-known error codes (100 and up are the plugin's own). */
export const cniErrorCodes = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** Gingham's own: no address could be assigned (pools full, none selecting the node). */
  ipamFailure: 100,
  /** Gingham's own: CHECK found the pod's network different from what ADD made. */
  checkFailed: 101,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

export const netConfSchema = z.looseObject({
  cniVersion: z.string(),
  name: z.string().min(1),
  type: z.string().min(1),
  /** The kubeconfig the plugin uses to reach the API (the agent's, never an admin's). */
  kubeconfig: z.string().min(1),
  /** This node's name as Kubernetes knows it. */
  nodename: z.string().min(1),
  /** The pod MTU; computed from the host MTU and the enabled encapsulations when absent. */
  mtu: z.int().min(576).max(65535).optional(),
  /** The host interface whose MTU the pod MTU derives from; the default route's when absent. */
  hostInterface: z.string().optional(),
  /** Restrict pod addresses to these pools (names); every pool that selects the node when absent. */
  ipv4Pools: z.array(z.string()).optional(),
  prevResult: z.unknown().optional(),
});
export type NetConf = z.output<typeof netConfSchema>;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface CniRequest {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifName: string;
  /** K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS (defaults: "default" and the container ID). */
  podNamespace: string;
  podName: string;
  config: NetConf;
}

function parseArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** The command alone, so that VERSION works without the other variables. */
export function commandOf(env: NodeJS.ProcessEnv): CniCommand {
  const command = env.CNI_COMMAND;
  if (command === 'ADD' || command === 'DEL' || command === 'CHECK' || command === 'VERSION') return command;
  throw new CniError(cniErrorCodes.invalidEnvironment, `CNI_COMMAND must be ADD, DEL, CHECK or VERSION (got ${JSON.stringify(command ?? '')})`);
}

export function parseRequest(env: NodeJS.ProcessEnv, stdin: string): CniRequest {
  const command = commandOf(env);
  let json: unknown;
  try {
    json = JSON.parse(stdin);
  } catch (error) {
    throw new CniError(cniErrorCodes.decodeFailure, `the network configuration on stdin is not JSON: ${(error as Error).message}`);
  }
  const parsed = netConfSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CniError(cniErrorCodes.invalidConfig, `network configuration field ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  const config = parsed.data;
  if (!(supportedVersions as readonly string[]).includes(config.cniVersion)) {
    throw new CniError(cniErrorCodes.incompatibleVersion, `cniVersion ${config.cniVersion} is not supported; use one of ${supportedVersions.join(', ')}`);
  }
  const need = (name: string): string => {
    const value = env[name];
    // DEL must succeed even when the runtime no longer knows the netns.
    if (!value && !(command === 'DEL' && name === 'CNI_NETNS')) {
      throw new CniError(cniErrorCodes.invalidEnvironment, `${name} is not set: the container runtime must pass it`);
    }
    return value ?? '';
  };
  const containerId = need('CNI_CONTAINERID');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) {
    throw new CniError(cniErrorCodes.invalidEnvironment, `CNI_CONTAINERID ${JSON.stringify(containerId)} must be letters, digits, '_', '.' and '-'`);
  }
  const args = parseArgs(env.CNI_ARGS);
  return {
    command,
    containerId,
    netns: need('CNI_NETNS'),
    ifName: need('CNI_IFNAME'),
    podNamespace: args.K8S_POD_NAMESPACE ?? 'default',
    podName: args.K8S_POD_NAME ?? containerId,
    config,
  };
}
