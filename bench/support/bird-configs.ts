// BIRD 2 configurations the BGP benchmarks share: a sender that announces N /24 prefixes to each
// receiver, and a BIRD receiver (with or without its kernel protocol) measured beside Gingham.

/** The i-th benchmark prefix: 16.0.0.0/24, 16.0.1.0/24, ... (a million fit below 32.0.0.0). */
export function benchPrefix(i: number): string {
  const a = 0x10000000 + i * 256;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/24`;
}

export interface BirdPeer {
  name: string;
  address: string;
}

/** A BIRD sender announcing `n` blackhole /24s (benchPrefix) over eBGP from `asn` to each peer, which is in AS `peerAsn`. */
export function senderConfig(self: BirdPeer, n: number, peers: BirdPeer[], options: { asn?: number; peerAsn?: number } = {}): string {
  const routes: string[] = [];
  for (let i = 0; i < n; i++) routes.push(`  route ${benchPrefix(i)} blackhole;`);
  return `router id ${self.address};
log stderr { error, fatal };
protocol device {}
protocol static feed {
  ipv4;
${routes.join('\n')}
}
${peers.map((p) => `protocol bgp to_${p.name.replace(/[^A-Za-z0-9_]/g, '_')} {
  local ${self.address} as ${options.asn ?? 65001};
  neighbor ${p.address} as ${options.peerAsn ?? 64512};
  ipv4 { import none; export all; next hop self; };
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
}`).join('\n')}
`;
}

/** A BIRD receiver in AS 64512 taking all from the sender, and with `kernel` installing what it takes (its kernel protocol). */
export function birdReceiverConfig(self: BirdPeer, sender: BirdPeer, kernel: boolean, senderAsn = 65001): string {
  return `router id ${self.address};
timeformat protocol "%F %T.%6f";
log stderr { error, fatal };
protocol device {}
${kernel ? 'protocol kernel { ipv4 { export all; }; }' : ''}
protocol bgp sender {
  local ${self.address} as 64512;
  neighbor ${sender.address} as ${senderAsn};
  ipv4 { import all; export none; };
}
`;
}

/** When BIRD says its protocol `name` became Established (ms since the epoch; needs the receiver's timeformat), or undefined. */
export function birdEstablishedAt(showProtocolsAll: string, name: string): number | undefined {
  const since = new RegExp(`${name}\\s+BGP\\s+\\S+\\s+up\\s+(\\S+ \\S+)\\s+Established`).exec(showProtocolsAll)?.[1];
  return since ? new Date(since.replace(' ', 'T')).getTime() : undefined;
}

/** Routes imported by a protocol, from `birdc show protocols all NAME`. */
export function birdImported(showProtocolsAll: string): number {
  return Number(/Routes:\s+(\d+) imported/.exec(showProtocolsAll)?.[1] ?? 0);
}
