// Many simulated cluster nodes in one process and one network namespace, for the mesh and
// route-reflector benchmark (bench/bgp-mesh.ts): each node is one address on eth0 and one iBGP
// session with the node under test, which connects to them (one listener on port 179 for all
// addresses, the socket's local address says which node it reached). Each node announces its
// own block (next hop itself), then End-of-RIB, answers keepalives, and counts the prefixes it is
// sent. Written with the speaker's codec (agent/bgp/codec) so that 500 sessions cost one process
// rather than 500 daemons; its CPU is not the figure measured, the node under test's is.
//
// Run inside the namespace: node --import tsx bench/support/simulated-nodes.ts CONFIG.json
// CONFIG: { nodes: [{ address, block }], expected: { [address]: string[] }, extra? } (the prefixes
// each node must end up with, and how many more). Prints a JSON line { up, complete, nodes } every 100 ms on stdout.
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { MessageType, decodeUpdateBody, encodeEndOfRib, encodeKeepalive, encodeOpen, encodeUpdate, isEndOfRib, localCapabilities, type UpdateContext } from '../../agent/bgp/codec/index.ts';
import { formatIPv4, parseCidr, parseIPv4 } from '../../shared/net/index.ts';

export interface SimulatedNodesConfig {
  nodes: Array<{ address: string; block: string }>;
  /** The prefixes each node (by address) must have been sent, to count as complete. */
  expected: Record<string, string[]>;
  /** How many prefixes besides those each must also have been sent (the whole agent's own block, which IPAM picks). */
  extra?: number;
  asn?: number;
}

const ctx: UpdateContext = { as4: true, addPath: false, ebgp: false };

class Session {
  private buffer: Buffer = Buffer.alloc(0);
  private opened = false;
  established = false;
  /** Prefixes the node under test sent, as `address/length`. */
  readonly received = new Set<string>();
  private keepalive: NodeJS.Timeout | undefined;

  constructor(private readonly socket: Socket, private readonly node: { address: string; block: string }, private readonly asn: number) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.established = false;
      clearInterval(this.keepalive);
    });
    socket.write(encodeOpen({ version: 4, myAs: asn, holdTime: 90, routerId: parseIPv4(node.address), capabilities: localCapabilities({ asn, addPathReceive: false, extendedMessage: false }), otherParameters: [] }));
  }

  private take(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (this.buffer.length >= 19) {
      const length = this.buffer.readUInt16BE(16);
      if (this.buffer.length < length) break;
      const type = this.buffer[18]!;
      const body = this.buffer.subarray(19, length);
      this.buffer = this.buffer.subarray(length);
      this.message(type, body);
    }
  }

  private message(type: number, body: Buffer): void {
    if (type === MessageType.Open && !this.opened) {
      this.opened = true;
      this.socket.write(encodeKeepalive());
    } else if (type === MessageType.Keepalive && this.opened && !this.established) {
      this.established = true;
      const block = parseCidr(this.node.block);
      this.socket.write(encodeUpdate({ withdrawn: [], nlri: [{ address: block.address, length: block.prefixLength, pathId: 0 }], attributes: { origin: 0, asPath: [], nextHop: parseIPv4(this.node.address), localPref: 100 } }, ctx));
      this.socket.write(encodeEndOfRib());
      this.keepalive = setInterval(() => this.socket.write(encodeKeepalive()), 20_000);
    } else if (type === MessageType.Update) {
      const decoded = decodeUpdateBody(body, ctx);
      if (!decoded.ok) throw new Error(`${this.node.address}: bad UPDATE from the node under test: ${decoded.error.reason}`);
      const update = decoded.value;
      if (isEndOfRib(update)) return;
      for (const p of update.withdrawn) this.received.delete(`${formatIPv4(p.address)}/${p.length}`);
      if (!update.treatAsWithdraw) for (const p of update.nlri) this.received.add(`${formatIPv4(p.address)}/${p.length}`);
    } else if (type === MessageType.Notification) {
      process.stderr.write(`${this.node.address}: NOTIFICATION ${body[0]}/${body[1]} from the node under test\n`);
    }
  }
}

function main(): void {
  const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as SimulatedNodesConfig;
  const asn = config.asn ?? 64512;
  const byAddress = new Map(config.nodes.map((n) => [n.address, n]));
  const sessions = new Map<string, Session>();
  const server = createServer((socket) => {
    const local = socket.localAddress?.replace(/^::ffff:/, '') ?? '';
    const node = byAddress.get(local);
    if (!node) return socket.destroy();
    // A new connection from the node under test replaces the old (it restarted, or retried).
    sessions.set(local, new Session(socket, node, asn));
  });
  server.listen({ host: '0.0.0.0', port: 179, backlog: 1024 }, () => process.stderr.write('listening\n'));
  setInterval(() => {
    let up = 0;
    let complete = 0;
    for (const [address, s] of sessions) {
      if (s.established) up++;
      const want = config.expected[address] ?? [];
      if (s.established && s.received.size >= want.length + (config.extra ?? 0) && want.every((p) => s.received.has(p))) complete++;
    }
    process.stdout.write(`${JSON.stringify({ up, complete, nodes: config.nodes.length })}\n`);
  }, 100);
}

main();
