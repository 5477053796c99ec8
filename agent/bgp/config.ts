// The standalone speaker's configuration file (YAML or JSON), validated with zod so that every
// mistake is reported with the field it is in. Defaults follow calico-node's BIRD configuration.
// zod/mini, not zod: the standalone speaker loads this, and the full zod API costs about 10 MB of
// memory at start (its whole surface is built when it loads) next to a table that must stay within
// 1.5x of BIRD's; zod/mini builds only what is used (about 0.2 MB).
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';
import { isCidr, isIPv4, parseCidr } from '../../shared/net/index.ts';

/** Calico's default AS (BGPConfiguration asNumber). */
export const CALICO_DEFAULT_ASN = 64512;
/**
 * The route protocol number of kernel routes this speaker installs. The dataplane owns 71
 * (shared/dataplane-plan); the standalone speaker uses its own so that neither reconciler ever
 * removes the other's routes.
 */
export const GINGHAM_BGP_ROUTE_PROTOCOL = 72;
/** calico-node's BIRD: graceful restart time 120 s, connect retry 5 s. */
export const DEFAULT_RESTART_TIME = 120;
export const DEFAULT_CONNECT_RETRY = 5;
export const DEFAULT_HOLD_TIME = 90;
/**
 * The cap of the connect-retry backoff: Calico's BIRD waits 5 s after a first error and at most
 * 30 s (`error wait time 5,30`); Gingham doubles the connect retry time per consecutive failure
 * up to this.
 */
export const DEFAULT_CONNECT_RETRY_MAX = 30;

// Messages in English (zod/mini has none unless asked; z.locales would bring every language).
z.config(en());

/** An integer from `min` to `max`. */
const int = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
const ipv4 = z.string().check(z.refine(isIPv4, { message: 'must be an IPv4 address such as 10.240.1.11' }));
const asn = int(1, 4294967295);
const holdTime = z.int().check(z.refine((v) => v === 0 || (v >= 3 && v <= 65535), { message: 'must be 0 or from 3 to 65535 seconds' }));

const hostPort = z.string().check(z.refine((s) => {
  const [host, port, ...rest] = s.split(':');
  return rest.length === 0 && isIPv4(host ?? '') && (port === undefined || /^\d{1,5}$/.test(port) && Number(port) <= 65535);
}, { message: 'must be address[:port], such as 10.240.1.11 or 127.0.0.1:1179' }));

const peerSchema = z.strictObject({
  address: ipv4,
  asn: z._default(asn, CALICO_DEFAULT_ASN),
  port: z._default(int(1, 65535), 179),
  /** Wait for the peer to connect. Unset: Calico's rule for iBGP (passive when the peer's address string is greater). */
  passive: z.optional(z.boolean()),
  routeReflectorClient: z._default(z.boolean(), false),
  /** TCP-MD5 password (RFC 2385), as Calico's BGPPeer password and BIRD's `password`. */
  password: z.optional(z.string().check(z.minLength(1), z.maxLength(80))),
  holdTime: z.optional(holdTime),
  /** Import policy. eBGP peers default to none (RFC 8212); iBGP to all. */
  import: z.optional(z.enum(['all', 'none'])),
  /** Export policy. eBGP peers default to none (RFC 8212); iBGP follows the iBGP/route reflection rules. */
  export: z.optional(z.enum(['all', 'announced', 'none'])),
  /** Seconds between KEEPALIVEs (Calico's BGPPeer keepaliveTime, BIRD's `keepalive time`). Default: a third of the hold time. */
  keepaliveTime: z.optional(int(1, 21845)),
  /**
   * The graceful restart time announced to this peer: how long it keeps our routes while we
   * restart (Calico's BGPPeer maxRestartTime, BIRD's `graceful restart time`). Default: gracefulRestart.restartTime.
   */
  restartTime: z.optional(int(1, 4095)),
  /**
   * Source address of outgoing connections: an address, or `none` to let the kernel choose
   * (Calico's BGPPeer sourceAddress: UseNodeIP is the default here, None is `none`).
   * Default: the listen address when it is not 0.0.0.0.
   */
  sourceAddress: z.optional(z.union([ipv4, z.literal('none')])),
  /**
   * Next hop of routes sent to this peer (Calico's BGPPeer nextHopMode): `self` always our
   * address, `keep` always the route's own next hop, `auto` BGP's rules (self towards eBGP and
   * for our own routes, kept when reflecting iBGP routes).
   */
  nextHop: z._default(z.enum(['auto', 'self', 'keep']), 'auto'),
  description: z.optional(z.string()),
  /**
   * What `status` shows as PEER TYPE, in calicoctl's words: how the peer came to be configured
   * (the node-to-node mesh, a global BGPPeer, a BGPPeer for some nodes). Default: from the
   * session (eBGP `global`, a route reflector client, else `node-to-node mesh`).
   */
  peerType: z.optional(z.enum(['node-to-node mesh', 'global', 'node specific'])),
});

/** One peer as the configuration file (or Speaker.addPeer) gives it, before defaults. */
export type PeerConfigInput = z.input<typeof peerSchema>;

const kernelSchema = z.strictObject({
  table: z._default(z.union([z.literal('main'), int(1, 0xfffffffe)]), 'main'),
  protocol: z._default(int(1, 255), GINGHAM_BGP_ROUTE_PROTOCOL),
  /** Install as `dev DEVICE onlink` (Calico's IP-in-IP: tunl0) instead of a plain gateway route. */
  device: z.optional(z.string().check(z.minLength(1), z.maxLength(15))),
});

export const configSchema = z.strictObject({
  routerId: ipv4,
  asn: z._default(asn, CALICO_DEFAULT_ASN),
  listen: z.optional(hostPort),
  holdTime: z._default(holdTime, DEFAULT_HOLD_TIME),
  connectRetryTime: z._default(int(1, 3600), DEFAULT_CONNECT_RETRY),
  /** Connect retry backoff cap in seconds: the wait doubles per consecutive failure up to this (RFC 4271 8.1.1's damping, BIRD's error wait time). */
  connectRetryMax: z._default(int(1, 3600), DEFAULT_CONNECT_RETRY_MAX),
  gracefulRestart: z._default(z.strictObject({
    enabled: z._default(z.boolean(), true),
    restartTime: z._default(int(1, 4095), DEFAULT_RESTART_TIME),
  }), { enabled: true, restartTime: DEFAULT_RESTART_TIME }),
  /** Route reflector cluster ID (default: the router ID); used when any peer is a routeReflectorClient. */
  clusterId: z.optional(ipv4),
  peers: z._default(z.array(peerSchema), []),
  announce: z._default(z.array(z.string().check(z.refine(isCidr, { message: 'must be a prefix with no host bits, such as 192.168.1.64/26' }))), []),
  kernel: z.optional(z.union([z.pipe(z.literal(true), z.transform(() => kernelSchema.parse({}))), kernelSchema])),
}).check(z.superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.peers.forEach((peer, i) => {
    const key = `${peer.address}:${peer.port}`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['peers', i, 'address'], message: `peer ${key} is listed twice`, input: peer.address });
    seen.add(key);
    const keepalive = keepaliveProblem(peer, config.holdTime);
    if (keepalive) ctx.addIssue({ code: 'custom', path: ['peers', i, 'keepaliveTime'], message: keepalive, input: peer.keepaliveTime });
  });
}));

export type SpeakerConfigFile = z.output<typeof configSchema>;
export type PeerConfigFile = SpeakerConfigFile['peers'][number];

/**
 * Validates one peer (Speaker.addPeer / updatePeer / setPeers); throws ConfigError naming the bad
 * fields. `holdTime`: the speaker's, for a peer that sets none.
 */
export function validatePeer(document: unknown, what = 'peer', holdTime = DEFAULT_HOLD_TIME): PeerConfigFile {
  const result = peerSchema.safeParse(document);
  if (!result.success) throw new ConfigError(what, result.error.issues.map((issue) => `${fieldPath(issue.path)}: ${issue.message}`));
  const keepalive = keepaliveProblem(result.data, holdTime);
  if (keepalive) throw new ConfigError(what, [`keepaliveTime: ${keepalive}`]);
  return result.data;
}

/**
 * A keepalive time not below the hold time would let the peer's hold timer expire between two
 * KEEPALIVEs (RFC 4271 10 suggests a third of it). Hold time 0 sends none, so anything goes.
 */
function keepaliveProblem(peer: { holdTime?: number | undefined; keepaliveTime?: number | undefined }, speakerHoldTime: number): string | undefined {
  const hold = peer.holdTime ?? speakerHoldTime;
  if (peer.keepaliveTime === undefined || hold === 0 || peer.keepaliveTime < hold) return undefined;
  return `must be less than the hold time (${hold} s): a third of it is usual (${Math.max(1, Math.floor(hold / 3))})`;
}

/**
 * Whether going from one configuration to another needs a new Speaker: true when anything but
 * `peers`, `announce` and `clusterId` differs (router ID, AS, listen address, timers, graceful
 * restart, kernel). Peers change at runtime with Speaker.setPeers, prefixes with
 * announce/withdraw, the cluster ID with setClusterId (a node made a route reflector keeps its
 * sessions).
 */
export function needsRestart(from: SpeakerConfigFile, to: SpeakerConfigFile): boolean {
  const globals = (c: SpeakerConfigFile) => JSON.stringify({ ...c, peers: undefined, announce: undefined, clusterId: undefined });
  return globals(from) !== globals(to);
}

export class ConfigError extends Error {
  constructor(readonly file: string, problems: string[]) {
    super(`${file}: the configuration is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}\nFix these fields and start again.`);
    this.name = 'ConfigError';
  }
}

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '') || '(top level)';
}

/** Validates a parsed document; throws ConfigError naming every bad field. */
export function validateConfig(document: unknown, file = 'config'): SpeakerConfigFile {
  const result = configSchema.safeParse(document);
  if (!result.success) {
    throw new ConfigError(file, result.error.issues.map((issue) => `${fieldPath(issue.path)}: ${issue.message}`));
  }
  return result.data;
}

export async function loadConfig(file: string): Promise<SpeakerConfigFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the configuration ${file}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`]);
  }
  return validateConfig(document, file);
}

export function listenAddress(config: SpeakerConfigFile): { address: string; port: number } {
  if (!config.listen) return { address: '0.0.0.0', port: 179 };
  const [address, port] = config.listen.split(':');
  return { address: address!, port: port ? Number(port) : 179 };
}

/**
 * Calico's mesh rule (confd's bird template): of two nodes, the one whose peer's address is
 * lexically greater, compared as strings, is passive. Explicit `passive` wins.
 */
export function isPassive(config: SpeakerConfigFile, peer: PeerConfigFile): boolean {
  if (peer.passive !== undefined) return peer.passive;
  if (peer.asn !== config.asn) return false;
  const local = listenAddress(config).address === '0.0.0.0' ? config.routerId : listenAddress(config).address;
  return peer.address > local;
}

export function announcedPrefixes(config: SpeakerConfigFile): Array<{ address: number; length: number }> {
  return config.announce.map((text) => {
    const c = parseCidr(text);
    return { address: c.address, length: c.prefixLength };
  });
}
