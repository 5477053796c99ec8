// The lab's topology file: subnets, nodes, pods and the starting IPPool. Parsed with line
// positions kept, so that every mistake is reported at its line (`topology.yaml:12:5: nodes[2].address:
// 10.240.3.4 is not inside subnet-1 (10.240.1.0/24)`), then checked as a whole (unique names,
// addresses inside their subnets, no overlaps with the pod pool or the admin link).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isNode, visit } from 'yaml';
import { z } from 'zod';
import { errorMap } from '../../shared/model/validation.ts';
import { containsAddress, formatIPv4, isCidr, isIPv4, lastAddress, overlaps, parseCidr, parseIPv4, type Cidr } from '../../shared/net/index.ts';

export const defaultTopologyFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'default.yaml');

/** The /30 between the machine's own namespace and the VPC router (the admin's link). */
export const adminLink = { cidr: '10.240.255.252/30', router: '10.240.255.253', host: '10.240.255.254' } as const;

// Names become network namespace and interface names (15 bytes at most: `br-` + subnet, `n-` + node).
const shortName = (max: number) =>
  z.string().regex(new RegExp(`^[a-z0-9]([-a-z0-9]{0,${max - 2}}[a-z0-9])?$`), {
    error: `must be 1 to ${max} lower-case letters, digits or '-', starting and ending with a letter or digit`,
  });
const ipv4 = z.string().refine(isIPv4, { error: 'must be an IPv4 address such as 10.240.1.11' });
const cidr = z.string().refine(isCidr, { error: 'must be a CIDR with no host bits set, such as 10.240.1.0/24' });
const mode = z.enum(['Always', 'CrossSubnet', 'Never']);

const schema = z.strictObject({
  subnets: z
    .array(z.strictObject({ name: shortName(12), cidr, gateway: ipv4.optional().meta({ description: 'the VPC router on this subnet; the first address by default' }) }))
    .min(1),
  nodes: z
    .array(
      z.strictObject({
        name: shortName(13),
        subnet: z.string(),
        address: ipv4,
        controlPlane: z.boolean().default(false).meta({ description: 'runs etcd and kube-apiserver on :6443' }),
        calico: z.boolean().optional().meta({ description: "runs Project Calico's calico-node (Felix, confd, BIRD) instead of the Gingham agent (lab/calico-node)" }),
      }),
    )
    .min(1),
  pods: z.array(z.strictObject({ name: shortName(13), node: z.string() })).default([]),
  pool: z
    .strictObject({
      cidr: cidr.default('192.168.0.0/16'),
      blockSize: z.int().min(20).max(32).default(26),
      ipipMode: mode.default('Always'),
      vxlanMode: mode.default('Never'),
      natOutgoing: z.boolean().default(true),
    })
    .prefault({}),
});

export type Topology = z.output<typeof schema>;
export type TopologySubnet = Topology['subnets'][number] & { gateway: string };
export type TopologyNode = Topology['nodes'][number];

export class TopologyError extends Error {}

interface Problem {
  path: (string | number)[];
  message: string;
  /** Point at the key (an unknown field) rather than its value. */
  key?: boolean;
}

/** The subnet's gateway: given, or the first address. */
export function gatewayOf(subnet: Topology['subnets'][number]): string {
  return subnet.gateway ?? formatIPv4(parseCidr(subnet.cidr).address + 1);
}

/** Checks that need the whole file: references, uniqueness, addresses inside subnets, overlaps. */
function crossCheck(topology: Topology): Problem[] {
  const problems: Problem[] = [];
  const subnets = new Map<string, { cidr: Cidr; index: number }>();
  const names = new Map<string, string>();
  const claim = (name: string, what: string, at: (string | number)[]) => {
    const earlier = names.get(name);
    // Nodes and pods each get a network namespace of that name; the fabric has its own.
    if (earlier || name === 'fabric') problems.push({ path: at, message: `${name} is already the name of ${earlier ?? 'the fabric namespace'}` });
    else names.set(name, what);
  };
  const pool = parseCidr(topology.pool.cidr);
  const admin = parseCidr(adminLink.cidr);
  topology.subnets.forEach((subnet, index) => {
    const block = parseCidr(subnet.cidr);
    if (subnets.has(subnet.name)) problems.push({ path: ['subnets', index, 'name'], message: `subnet ${subnet.name} is defined twice` });
    for (const [other, { cidr: otherCidr }] of subnets) {
      if (overlaps(block, otherCidr)) problems.push({ path: ['subnets', index, 'cidr'], message: `${subnet.cidr} overlaps subnet ${other}` });
    }
    if (overlaps(block, pool)) problems.push({ path: ['subnets', index, 'cidr'], message: `${subnet.cidr} overlaps the pod pool ${topology.pool.cidr}` });
    if (overlaps(block, admin)) problems.push({ path: ['subnets', index, 'cidr'], message: `${subnet.cidr} overlaps the admin link ${adminLink.cidr}, which the lab reserves` });
    if (block.prefixLength > 29) problems.push({ path: ['subnets', index, 'cidr'], message: `a /${block.prefixLength} has no room for a gateway and nodes; use /29 or larger` });
    if (subnet.gateway && !containsAddress(block, parseIPv4(subnet.gateway))) problems.push({ path: ['subnets', index, 'gateway'], message: `${subnet.gateway} is not inside ${subnet.cidr}` });
    subnets.set(subnet.name, { cidr: block, index });
  });
  const addresses = new Map<string, string>();
  topology.subnets.forEach((s) => addresses.set(gatewayOf(s), `the gateway of ${s.name}`));
  const controlPlanes = topology.nodes.filter((n) => n.controlPlane);
  if (controlPlanes.length !== 1) problems.push({ path: ['nodes'], message: `exactly one node must have controlPlane: true (found ${controlPlanes.length})` });
  topology.nodes.forEach((node, index) => {
    claim(node.name, `node ${node.name}`, ['nodes', index, 'name']);
    const subnet = subnets.get(node.subnet);
    if (!subnet) {
      problems.push({ path: ['nodes', index, 'subnet'], message: `there is no subnet ${node.subnet} (subnets: ${[...subnets.keys()].join(', ')})` });
      return;
    }
    const address = parseIPv4(node.address);
    const { cidr: block } = subnet;
    if (!containsAddress(block, address)) problems.push({ path: ['nodes', index, 'address'], message: `${node.address} is not inside ${node.subnet} (${formatCidrText(block)})` });
    else if (address === block.address || address === lastAddress(block)) problems.push({ path: ['nodes', index, 'address'], message: `${node.address} is the network or broadcast address of ${node.subnet}` });
    const taken = addresses.get(node.address);
    if (taken) problems.push({ path: ['nodes', index, 'address'], message: `${node.address} is already ${taken}` });
    addresses.set(node.address, `the address of ${node.name}`);
  });
  topology.pods.forEach((pod, index) => {
    claim(pod.name, `pod ${pod.name}`, ['pods', index, 'name']);
    if (!topology.nodes.some((n) => n.name === pod.node)) problems.push({ path: ['pods', index, 'node'], message: `there is no node ${pod.node}` });
  });
  if (topology.pool.ipipMode !== 'Never' && topology.pool.vxlanMode !== 'Never') problems.push({ path: ['pool'], message: 'ipipMode and vxlanMode cannot both be on' });
  if (topology.pool.blockSize < pool.prefixLength) problems.push({ path: ['pool', 'blockSize'], message: `a block (/${topology.pool.blockSize}) cannot be larger than the pool (${topology.pool.cidr})` });
  return problems;
}

function formatCidrText(cidr: Cidr): string {
  return `${formatIPv4(cidr.address)}/${cidr.prefixLength}`;
}

function pathText(at: (string | number)[]): string {
  // A key that is not a plain word (a typo with a space or a colon in it) is quoted, so that the path stays readable.
  const key = (part: string) => (/^[A-Za-z_][\w-]*$/.test(part) ? part : JSON.stringify(part));
  return at.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : /^[A-Za-z_][\w-]*$/.test(part) ? (text ? `${text}.${part}` : part) : `${text}[${key(part)}]`), '') || '(top level)';
}

/** Parses and validates a topology; `file` names it in messages. Throws TopologyError listing every problem at its line. */
export function parseTopology(text: string, file = 'topology.yaml'): Topology {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (document.errors.length > 0) {
    throw new TopologyError(document.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`).join('\n'));
  }
  // Where a path points: the key itself for an unknown field, else the deepest node that exists along it.
  const keyAt = (problemPath: (string | number)[]) => {
    const parent = document.getIn(problemPath.slice(0, -1), true) as { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> } | undefined;
    return parent?.items?.find((item) => item.key?.value === problemPath.at(-1))?.key?.range;
  };
  const locate = (problem: Problem): string => {
    const keyRange = problem.key ? keyAt(problem.path) : undefined;
    if (keyRange) return at(keyRange[0]);
    for (let length = problem.path.length; length >= 0; length--) {
      const node = document.getIn(problem.path.slice(0, length), true);
      if (isNode(node) && node.range) return at(node.range[0]);
    }
    return `${file}:1:1`;
  };
  const report = (problems: Problem[]): never => {
    throw new TopologyError(`${file} is not a valid lab topology:\n${problems.map((p) => `  ${locate(p)}: ${pathText(p.path)}: ${p.message}`).join('\n')}`);
  };
  let value: unknown;
  try {
    value = document.toJS();
  } catch (error) {
    // An alias to an anchor that is not defined before it (*name without &name), or too many aliases.
    let where = `${file}:1:1`;
    visit(document, {
      Alias: (_, node) => {
        if (node.range) where = at(node.range[0]);
        return visit.BREAK;
      },
    });
    throw new TopologyError(`${where}: ${(error as Error).message.split('\n')[0]}: define each anchor (&name) before its aliases (*name), or write the value out`);
  }
  // The model's words ("must be a list (got an object)"), not zod's ("Invalid input: expected array").
  const parsed = schema.safeParse(value, { reportInput: true, error: errorMap });
  if (!parsed.success) {
    report(
      parsed.error.issues.flatMap((issue) =>
        // An unknown key: name it, and point at it.
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ path: [...(issue.path as (string | number)[]), key], message: `unknown field (allowed: ${allowedKeys(issue.path as (string | number)[]).join(', ')})`, key: true }))
          : [{ path: issue.path as (string | number)[], message: issue.message }],
      ),
    );
  }
  const topology = parsed.data!;
  const problems = crossCheck(topology);
  if (problems.length > 0) report(problems);
  return topology;
}

function allowedKeys(at: (string | number)[]): string[] {
  const where = at.filter((p) => typeof p === 'string');
  const shapes: Record<string, string[]> = {
    '': ['subnets', 'nodes', 'pods', 'pool'],
    subnets: ['name', 'cidr', 'gateway'],
    nodes: ['name', 'subnet', 'address', 'controlPlane', 'calico'],
    pods: ['name', 'node'],
    pool: ['cidr', 'blockSize', 'ipipMode', 'vxlanMode', 'natOutgoing'],
  };
  return shapes[where.join('.')] ?? [];
}

/** A topology file given as a path, or by the name of one beside the default (`mixed-calico`). */
export function topologyFileFor(nameOrPath: string): string {
  const named = path.join(path.dirname(defaultTopologyFile), `${nameOrPath}.yaml`);
  return !existsSync(nameOrPath) && /^[a-z0-9-]+$/.test(nameOrPath) && existsSync(named) ? named : nameOrPath;
}

export function loadTopology(file = defaultTopologyFile): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TopologyError(`cannot read the topology ${file}: ${(error as Error).message}`);
  }
  return parseTopology(text, file);
}

/** The subnets with their gateways filled in, and the control-plane node. */
export function resolved(topology: Topology): { subnets: TopologySubnet[]; controlPlane: TopologyNode } {
  return {
    subnets: topology.subnets.map((s) => ({ ...s, gateway: gatewayOf(s) })),
    controlPlane: topology.nodes.find((n) => n.controlPlane)!,
  };
}

export function subnetOfNode(topology: Topology, node: TopologyNode): TopologySubnet {
  return resolved(topology).subnets.find((s) => s.name === node.subnet)!;
}
