// A trace's ends as an admin names them: a pod (`pod-1`, `default/pod-1`) or an address, which is
// a pod's when one has it. Unknown names are refused with the names that do exist.
import { ConsoleError } from '../api/errors.ts';
import { isIPv4 } from '../net/index.ts';
import type { ClusterFacts, PodFacts } from './evidence.ts';

export interface Endpoint {
  ip: string;
  pod?: PodFacts;
  /** The cluster node whose address this is (a host endpoint). */
  node?: string;
  /** How the admin wrote it. */
  text: string;
}

export const podLabel = (pod: PodFacts) => (pod.namespace === 'default' ? pod.name : `${pod.namespace}/${pod.name}`);

export function resolveEndpoint(cluster: ClusterFacts, text: string, role: 'source' | 'destination'): Endpoint {
  const trimmed = text.trim();
  if (/^[0-9a-f:.]+$/i.test(trimmed) && trimmed.includes(':')) {
    throw new ConsoleError('invalid-field', `The ${role} ${trimmed} is an IPv6 address: the doctor traces IPv4 only for now (as the agent handles IPv4 pools only); give the pod's IPv4 address or its name.`);
  }
  if (isIPv4(trimmed)) {
    const pod = cluster.pods.find((p) => p.ip === trimmed);
    const node = cluster.nodes.find((n) => n.internalIp === trimmed || n.ipv4Address?.split('/')[0] === trimmed);
    return { ip: trimmed, text: trimmed, ...(pod ? { pod } : {}), ...(node ? { node: node.name } : {}) };
  }
  const [namespace, name] = trimmed.includes('/') ? trimmed.split('/', 2) : [undefined, trimmed];
  const matches = cluster.pods.filter((p) => p.name === name && (namespace === undefined || p.namespace === namespace));
  if (matches.length === 1) return { ip: matches[0]!.ip, pod: matches[0]!, text: trimmed };
  if (matches.length > 1) {
    throw new ConsoleError('invalid-field', `The ${role} ${trimmed} names pods in ${matches.length} namespaces (${matches.map((p) => p.namespace).join(', ')}): write it as namespace/name.`);
  }
  const known = cluster.pods.map(podLabel).sort().slice(0, 20).join(', ');
  throw new ConsoleError('not-found', `No pod ${trimmed} (the ${role}) in the cluster: give a pod's name, namespace/name or an IPv4 address${known ? `; pods: ${known}` : ''}.`);
}
