// The dataplane's desired-state document: what one node's kernel should hold, as data. The
// datastore and the BGP speaker produce it; `gingham-agent dataplane apply --state FILE` reads it
// from JSON or YAML. The field names are the issue's (and Calico's, where Calico has one).
import { z } from 'zod';
import {
  NetParseError,
  containsCidr,
  formatCidr,
  overlaps,
  parseCidr,
  parseIPv4,
  parseInterfaceAddress,
  type Cidr,
} from '../net/index.ts';
import { normalizeMode, storedModeSchema } from './modes.ts';
import { addIssue, parseWith } from './validation.ts';

/** A check that runs a shared/net parser and turns its error into a field issue. */
function parsed(parse: (text: string) => unknown, what: string) {
  return (text: string, ctx: z.RefinementCtx): void => {
    try {
      parse(text);
    } catch (error) {
      const reason = error instanceof NetParseError ? error.message : String(error);
      addIssue(ctx, [], `must be ${what}: ${reason}`);
    }
  };
}

const ipv4 = z.string().superRefine(parsed(parseIPv4, 'an IPv4 address such as 10.240.1.11'));
const cidr = z.string().superRefine(parsed(parseCidr, 'a masked IPv4 CIDR such as 192.168.1.64/26'));
const interfaceAddress = z
  .string()
  .superRefine(parsed(parseInterfaceAddress, 'an IPv4 address with its prefix length, such as 10.240.1.11/24'));
const mac = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, { error: 'must be a MAC address in lower-case hex, such as 66:93:7f:54:d5:53' });
// Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no slash, no whitespace.
const interfaceName = z
  .string()
  .regex(/^[^\s/]{1,15}$/, { error: 'must be a Linux interface name: 1 to 15 characters, no spaces or slashes' });

const encapsulationList = z.array(z.enum(['IPIP', 'VXLAN'], { error: (issue) => `must be IPIP or VXLAN (got ${JSON.stringify(issue.input)})` }));

const nodeSchema = z.object({
  name: z.string().min(1),
  interface: interfaceName.meta({ description: 'The host interface, such as ens5.' }),
  address: interfaceAddress.meta({ description: "The node's IPv4 address with its subnet's prefix length." }),
  ipipTunnelAddress: ipv4.optional().meta({ description: "tunl0's address; the first address of the node's first IPIP block when absent." }),
  vxlanTunnelAddress: ipv4.optional().meta({ description: "vxlan.calico's address; the first address of the node's first VXLAN block when absent." }),
  tunnelAddressesAllocated: z.boolean().default(false).meta({ description: "The two tunnel addresses are the ones IPAM gave this node, absent while it has none (the agent's documents): nothing is guessed then, since IPAM may have given a block's first addresses to pods." }),
  gateway: ipv4.optional().meta({ description: "The subnet's gateway, next hop of direct routes to other subnets; read from the kernel's default route when absent." }),
  mtu: z.int().min(576).max(65535).optional().meta({ description: "The host interface's MTU; read from the kernel when absent." }),
  keepAccepting: encapsulationList.default([]).meta({ description: 'Encapsulations to keep receiving (device and admission) besides what the pools want: during a mode switch, what peers that have not moved yet still send (docs/dataplane.md, make before break).' }),
});

const poolSchema = z.object({
  name: z.string().min(1),
  cidr,
  blockSize: z.int().min(20).max(32).default(26),
  ipipMode: storedModeSchema.default('Never').transform(normalizeMode),
  vxlanMode: storedModeSchema.default('Never').transform(normalizeMode),
  natOutgoing: z.boolean().default(false),
  disabled: z.boolean().default(false),
});

const endpointSchema = z.object({
  name: z.string().min(1),
  ip: ipv4,
  interface: interfaceName,
});

const peerSchema = z.object({
  name: z.string().min(1),
  address: interfaceAddress,
  blocks: z.array(cidr).default([]),
  borrowed: z.array(cidr).default([]).meta({ description: "/32s of the addresses the peer's pods borrowed from other nodes' blocks: routed to the peer, not to the block's owner." }),
  vxlanTunnelAddress: ipv4.optional(),
  vxlanMac: mac.optional(),
  accepts: encapsulationList.optional().meta({ description: "The encapsulations the peer's agent published that it receives now; absent: what the pool's mode says. A route uses a new encapsulation only once the peer accepts it." }),
});

const bgpRouteSchema = z.object({
  cidr,
  nextHop: ipv4,
});

const documentSchema = z.object({
  node: nodeSchema,
  pools: z.array(poolSchema).default([]),
  blocks: z.array(cidr).default([]).meta({ description: "This node's own blocks." }),
  endpoints: z.array(endpointSchema).default([]).meta({ description: 'The pods on this node.' }),
  peers: z.array(peerSchema).default([]).meta({ description: 'The other nodes.' }),
  bgpRoutes: z.array(bgpRouteSchema).optional().meta({ description: "Routes learned by BGP; the peers' blocks stand in when absent." }),
  hosts: z.array(ipv4).default([]).meta({
    description: "Addresses of the cluster's hosts besides node.address and the peers' addresses (a node's other addresses, nodes without a Calico address yet): tunnel packets (IP-in-IP, VXLAN) from any host not listed anywhere here are dropped.",
  }),
});

export const dataplaneStateSchema = documentSchema.superRefine(checkConsistency);

export type DataplaneState = z.output<typeof dataplaneStateSchema>;
export type PoolState = DataplaneState['pools'][number];
export type PeerState = DataplaneState['peers'][number];

function tryCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}

function tryAddress(text: string): number | undefined {
  try {
    return parseInterfaceAddress(text).address;
  } catch {
    return undefined;
  }
}

/** Rules across fields, each reported on the field a user has to change. */
function checkConsistency(state: z.output<typeof documentSchema>, ctx: z.RefinementCtx): void {
  const pools: Array<Cidr | undefined> = state.pools.map((pool) => tryCidr(pool.cidr));
  const seenPoolNames = new Set<string>();
  state.pools.forEach((pool, i) => {
    if (seenPoolNames.has(pool.name)) addIssue(ctx, ['pools', i, 'name'], `"${pool.name}" names two pools: pool names must be unique`);
    seenPoolNames.add(pool.name);
    if (pool.ipipMode !== 'Never' && pool.vxlanMode !== 'Never') {
      addIssue(ctx, ['pools', i, 'vxlanMode'], `must be Never while ipipMode is ${pool.ipipMode}: a pool uses IP-in-IP or VXLAN, not both`);
    }
    const own = pools[i];
    if (own && own.prefixLength > pool.blockSize) {
      addIssue(ctx, ['pools', i, 'blockSize'], `must be at least the pool's prefix length ${own.prefixLength} (got ${pool.blockSize})`);
    }
    for (let j = 0; j < i; j++) {
      const other = pools[j];
      if (own && other && overlaps(own, other)) {
        addIssue(ctx, ['pools', i, 'cidr'], `${formatCidr(own)} overlaps pool "${state.pools[j]?.name}" (${formatCidr(other)}): pools must not overlap`);
      }
    }
  });

  const checkBlock = (text: string, path: PropertyKey[]): void => {
    const block = tryCidr(text);
    if (!block || pools.length === 0) return;
    const index = pools.findIndex((pool) => pool !== undefined && containsCidr(pool, block));
    if (index < 0) {
      addIssue(ctx, path, `${text} lies in no pool: add its pool to pools, or remove the block`);
      return;
    }
    const size = state.pools[index]!.blockSize;
    if (block.prefixLength !== size) {
      addIssue(ctx, path, `${text} is a /${block.prefixLength}, but pool "${state.pools[index]!.name}" hands out /${size} blocks`);
    }
  };
  state.blocks.forEach((block, i) => checkBlock(block, ['blocks', i]));

  const nodeAddress = tryAddress(state.node.address);
  const seenPeers = new Set<string>([state.node.name]);
  state.peers.forEach((peer, i) => {
    if (seenPeers.has(peer.name)) {
      addIssue(ctx, ['peers', i, 'name'], peer.name === state.node.name
        ? `"${peer.name}" is this node's own name: list only the other nodes as peers`
        : `"${peer.name}" names two peers: peer names must be unique`);
    }
    seenPeers.add(peer.name);
    if (nodeAddress !== undefined && tryAddress(peer.address) === nodeAddress) {
      addIssue(ctx, ['peers', i, 'address'], `${peer.address} is this node's own address`);
    }
    peer.blocks.forEach((block, j) => checkBlock(block, ['peers', i, 'blocks', j]));
  });

  const seenEndpointIps = new Set<string>();
  state.endpoints.forEach((endpoint, i) => {
    if (seenEndpointIps.has(endpoint.ip)) addIssue(ctx, ['endpoints', i, 'ip'], `${endpoint.ip} is given to two endpoints`);
    seenEndpointIps.add(endpoint.ip);
  });
}

/**
 * Validates a parsed JSON or YAML value as a desired-state document. Throws ValidationError
 * naming every bad field (such as `pools[0].ipipMode`), so the user can fix them all at once.
 */
export function parseDataplaneState(input: unknown, subject = 'the dataplane state'): DataplaneState {
  return parseWith(dataplaneStateSchema, input, subject);
}
