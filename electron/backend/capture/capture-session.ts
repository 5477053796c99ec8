// One live capture: `tcpdump -U -w -` on a node over its SSH connection (as ksniff does, so it
// works with or without the agent), the pcap stream read as it arrives, every packet kept in a
// PacketStore, and decoded rows sent to the renderer in batches under a flow window. When the
// window is full the SSH channel pauses, so that TCP pushes back on tcpdump and the node's kernel
// buffer absorbs a burst; if the renderer is still behind after `pauseMs`, reading resumes and
// rows are skipped (counted, still stored and exported) rather than letting the kernel drop
// packets for a slow screen. The store is a ring bounded in bytes (packet-store.ts): a flood
// makes the console drop its oldest packets, counted, and the capture keeps running.
import { randomUUID } from 'node:crypto';
import type { Client, ClientChannel } from 'ssh2';
import type { EncapTally, PacketRow } from '../../../shared/api/capture-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { FlowWindow, type FlowWindowOptions } from '../../../shared/api/flow-control.ts';
import { CaptureReader, type CapturedPacket } from '../../../shared/packets/capture-reader.ts';
import { dissect, PacketFacts } from '../../../shared/packets/dissect.ts';
import { packetRecord } from '../../../shared/packets/packet-record.ts';
import { PacketStore } from './packet-store.ts';

export interface CaptureSink {
  packets(
    captureId: string,
    batch: { rows: PacketRow[]; captured: number; bytes: number; skipped: number; dropped: number; droppedBytes: number; kernelDropped?: number; at: number; tally: EncapTally },
  ): void;
  end(captureId: string, outcome: { reason: string; captured: number; kernelDropped?: number; error: boolean }): void;
}

export interface CaptureOptions {
  /** Rows sent but not yet acknowledged: the flow window, in rows. */
  flow?: FlowWindowOptions;
  /** How long the channel stays paused for a slow renderer before rows are skipped instead. */
  pauseMs?: number;
  /** Longest a row waits before its batch is sent (while the stream flows without a pause). */
  batchMs?: number;
  /** Bytes the capture's store keeps (packets and their numbers); beyond, the oldest are dropped. */
  maxBytes?: number;
  /** The store's block size (tests use small ones to reach the bound with little traffic). */
  storeBlockSize?: number;
  /**
   * Whether rows are sent to a view (the Captures list). A flow capture's points send none: their
   * packets are read from the store when correlated, so no flow window applies and nothing is skipped.
   */
  rows?: boolean;
  /** tcpdump's -s: bytes kept of each packet, 0 for all of it. */
  snapLen?: number;
}

export const defaultCaptureFlow: FlowWindowOptions = { highWater: 20_000, lowWater: 5_000 };
const maxBatchRows = 2_000;
/**
 * A batch goes once the stream has been quiet this long. tcpdump hands packets over a kernel
 * block at a time (256 KiB: 1,129 small packets, 113 ms of a 10k packets/s flow), which reaches
 * us as a burst of SSH chunks: waiting the whole batchMs after the burst's first row added 50 ms
 * to every row of it (measured, bench/capture-latency.ts: p50 109 ms, the last row of each block
 * 52 ms late), where a few ms after its last chunk is enough to send the block as one batch.
 */
const quietMs = 4;

/** Three of the tunl0 helper's 50 ms looks for captures (agent/dataplane/native/tunl0.c). */
const tunl0CaptureSettleMs = 150;

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What the console shows: tcpdump as the user would type it, with the SSH session's own exclusion. */
export function tcpdumpInvocation(iface: string, filter: string, snapLen = 0): string {
  const own = 'not (this SSH session)';
  return `tcpdump -i ${shellQuote(iface)} -U -w - -B 8192 -s ${snapLen} -n ${shellQuote(filter.trim() ? `(${filter.trim()}) and ${own}` : own)}`;
}

/**
 * The node's side of the bound. tcpdump streams to stdout, never to the node's disk; when the
 * console reads slower than packets come, the SSH channel's window fills, sshd stops reading (it
 * buffers at most the window), tcpdump blocks on the pipe, and the kernel's ring (-B 8192: 8 MiB)
 * fills and drops, counting what it dropped. tcpdump says that count at its exit, or on SIGUSR1:
 * this loop, in the background of the capture's own command (a channel of its own would take one
 * of sshd's 10 sessions a connection from the captures), sends tcpdump one a second so that the
 * user sees the drops while they happen. $$ is the shell that becomes tcpdump (or the sudo that
 * runs it: then its child is signalled). Only once tcpdump catches SIGUSR1 (SigCgt bit 9, set
 * before it listens): before that the signal would kill it; and never after tcpdump has gone (the
 * PID may be another program's by then): the loop ends once $$ has gone. Its output goes nowhere:
 * stdout is the pcap stream.
 */
const statisticsLoop = `{ ( p=$$; seen=; n=0; while sleep 1; do ${[
  '[ -d /proc/$p ] || exit',
  't=$p; [ "$(cat /proc/$p/comm 2>/dev/null)" = sudo ] && t=$(pgrep -P $p -x tcpdump 2>/dev/null | head -n 1)',
  'if [ "$(cat /proc/${t:-$p}/comm 2>/dev/null)" != tcpdump ]; then [ -n "$seen" ] && exit; n=$((n + 1)); [ $n -gt 60 ] && exit; continue; fi',
  'seen=1; m=$(sed -n "s/^SigCgt:[[:space:]]*//p" /proc/$t/status 2>/dev/null); m=${m#"${m%????}"}',
  '[ $((0x${m:-0} & 512)) -ne 0 ] || continue',
  'kill -USR1 $t 2>/dev/null || sudo -n kill -USR1 $t 2>/dev/null',
].join('; ')}; done ) </dev/null >/dev/null 2>&1 & }`;

/**
 * The command run on the node: its PID first (so that stop can signal it), then tcpdump, with sudo
 * when not root. The filter always leaves out the SSH connection that carries the capture (the
 * node's view of it is in $SSH_CONNECTION), as Wireshark's sshdump does: otherwise every captured
 * packet makes more SSH traffic to capture, and a capture on the node's main interface feeds on itself.
 */
export function tcpdumpCommand(iface: string, filter: string, snapLen = 0): string {
  if (!Number.isInteger(snapLen) || snapLen < 0 || snapLen > 262144) throw new ConsoleError('invalid-request', `${snapLen} is not a snap length (0 to 262144).`);
  // The contract allows only these characters; checked again because the name goes into a command line unquoted.
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface)) throw new ConsoleError('invalid-request', `"${iface}" is not an interface name.`);
  const user = filter.trim();
  const script = [
    'echo gingham-capture-pid $$ >&2',
    'set -- $SSH_CONNECTION',
    `own="not (host $1 and tcp port $2 and host $3 and tcp port $4)"`,
    `user=${shellQuote(user)}`,
    'if [ -z "$4" ]; then f="$user"; elif [ -n "$user" ]; then f="($user) and $own"; else f="$own"; fi',
    `args="-i ${iface} -U -w - -B 8192 -s ${snapLen} -n"`,
    statisticsLoop,
    'if [ "$(id -u)" = 0 ]; then exec tcpdump $args "$f"; else exec sudo -n tcpdump $args "$f"; fi',
  ].join('; ');
  return `sh -c ${shellQuote(script)}`;
}

/** The last count of kernel drops in tcpdump's words ("N packets dropped by kernel", on SIGUSR1 and at its exit). */
export function lastKernelDropped(stderr: string): number | undefined {
  let last: number | undefined;
  for (const m of stderr.matchAll(/(\d+) packets? dropped by kernel/g)) last = Number(m[1]);
  return last;
}

function emptyTally(): EncapTally {
  return { direct: { packets: 0, bytes: 0 }, IPIP: { packets: 0, bytes: 0 }, VXLAN: { packets: 0, bytes: 0 } };
}

const tallyKeys = ['direct', 'IPIP', 'VXLAN'] as const;

export class CaptureSession {
  readonly id = randomUUID();
  readonly store: PacketStore;
  readonly started = Date.now();
  linkType = -1;
  snapLen = 262144;
  private readonly reader = new CaptureReader();
  private readonly facts = new PacketFacts();
  private readonly flow: FlowWindow;
  private readonly pauseMs: number;
  private readonly batchMs: number;
  private readonly sendRows: boolean;
  private readonly snapLenAsked: number;
  /** Seconds since the epoch: when tcpdump said it was listening, and when the stop was asked for. */
  readonly listeningAt = Date.now() / 1000;
  stopRequestedAt: number | undefined;
  private pending: PacketRow[] = [];
  private tally = emptyTally();
  private batchTimer: NodeJS.Timeout | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  /** Packets read since the last batch (rows or not: a flow point's batch carries its counts). */
  private unsent = 0;
  private skipTimer: NodeJS.Timeout | undefined;
  private viewBehind = false;
  skipped = 0;
  private pid: number | undefined;
  private stderr = '';
  /** tcpdump's latest count of packets the node's kernel dropped (its statistics, asked for every second: statisticsLoop). */
  kernelDropped: number | undefined;
  private exited = false;
  private stopping: string | undefined;
  ended = false;

  private constructor(
    private readonly client: Client,
    private readonly channel: ClientChannel,
    readonly node: string,
    readonly iface: string,
    readonly filter: string,
    private readonly sink: CaptureSink,
    options: CaptureOptions,
  ) {
    this.flow = new FlowWindow(options.flow ?? defaultCaptureFlow);
    this.pauseMs = options.pauseMs ?? 1000;
    this.batchMs = options.batchMs ?? 50;
    // 256 MiB a capture: 16 captures at once (the service's limit) stay within 4 GiB.
    this.store = new PacketStore({ maxBytes: options.maxBytes ?? 256 * 1024 * 1024, ...(options.storeBlockSize ? { blockSize: options.storeBlockSize } : {}) });
    this.sendRows = options.rows ?? true;
    this.snapLenAsked = options.snapLen ?? 0;
    const onPacket = (p: CapturedPacket) => this.packet(p);
    channel.on('data', (chunk: Buffer) => {
      this.reader.push(chunk, onPacket);
      if (this.reader.error) this.stopWith(`The node sent something that is not a pcap stream: ${this.reader.error}`);
      if (this.unsent > 0 && !this.ended) {
        this.batchTimer ??= setTimeout(() => this.flush(), this.batchMs);
        if (this.quietTimer) clearTimeout(this.quietTimer);
        this.quietTimer = setTimeout(() => this.flush(), quietMs);
      }
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8000);
      const pid = /gingham-capture-pid (\d+)/.exec(this.stderr);
      if (pid && this.pid === undefined) this.pid = Number(pid[1]);
      this.kernelDropped = lastKernelDropped(this.stderr) ?? this.kernelDropped;
    });
    channel.on('exit', () => (this.exited = true));
    // A stream error is followed by 'close', which reports the end.
    channel.on('error', () => undefined);
    channel.on('close', () => this.finish());
  }

  /**
   * Starts tcpdump and resolves once it says it is listening, so that traffic sent after this
   * resolves is captured; rejects with tcpdump's own words when it cannot start (no such
   * interface, a filter it cannot compile, no permission).
   */
  static start(client: Client, node: string, iface: string, filter: string, sink: CaptureSink, options: CaptureOptions & { startTimeoutMs?: number } = {}): Promise<CaptureSession> {
    return new Promise((resolve, reject) => {
      client.exec(tcpdumpCommand(iface, filter, options.snapLen ?? 0), (error, channel) => {
        if (error) return reject(new ConsoleError('ssh-disconnected', `${node} refused to run tcpdump: ${error.message}`));
        let said = '';
        let settled = false;
        const settle = (outcome: 'listening' | 'failed') => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          channel.stderr.removeListener('data', listen);
          if (outcome === 'listening') {
            const session = new CaptureSession(client, channel, node, iface, filter, sink, options);
            session.stderr = said;
            session.pid = Number(/gingham-capture-pid (\d+)/.exec(said)?.[1] ?? NaN) || undefined;
            // The user-space tunl0's kernel fast path sends tunl0's outgoing packets on before a
            // capture can see them, and steps aside within 50 ms of a capture appearing on tunl0
            // (or on every interface): only then does "listening" mean they are seen.
            setTimeout(() => resolve(session), iface === 'tunl0' || iface === 'any' ? tunl0CaptureSettleMs : 0);
            return;
          }
          channel.close();
          const words = said.split('\n').filter((l) => l.trim() && !l.startsWith('gingham-capture-pid')).join(' ').trim();
          reject(new ConsoleError('invalid-request', words ? `tcpdump on ${node} could not start: ${words}` : `tcpdump on ${node} did not start listening within ${(options.startTimeoutMs ?? 30_000) / 1000} s.`));
        };
        const listen = (chunk: Buffer) => {
          said += chunk.toString('utf8');
          if (/listening on /.test(said)) settle('listening');
        };
        channel.stderr.on('data', listen);
        // 'exit' comes first: 'close' waits for the unread stdout to be drained.
        channel.on('exit', () => setTimeout(() => settle('failed'), 100));
        channel.on('close', () => settle('failed'));
        channel.on('error', () => undefined);
        const timer = setTimeout(() => settle('failed'), options.startTimeoutMs ?? 30_000);
      });
    });
  }

  get command(): string {
    return tcpdumpInvocation(this.iface, this.filter, this.snapLenAsked);
  }

  private packet(p: CapturedPacket): void {
    if (this.linkType < 0) {
      this.linkType = p.linkType;
      this.snapLen = this.reader.interfaces[0]?.snapLen ?? this.snapLen;
    }
    this.store.add(p.bytes, p.offset, p.caplen, p.origLen, p.tsSec, p.tsNsec);
    dissect(p.bytes, p.offset, p.caplen, p.origLen, p.linkType, this.facts);
    const t = this.tally[tallyKeys[this.facts.encap] ?? 'direct'];
    t.packets++;
    t.bytes += p.origLen;
    if (!this.sendRows) {
      // counted in the batch's totals only
    } else if (this.viewBehind) this.skipped++;
    else {
      this.pending.push(packetRecord(this.store.count, p, this.facts));
      if (this.flow.sent(1)) this.pauseForView();
    }
    this.unsent++;
    if (this.pending.length >= maxBatchRows) this.flush();
  }

  private pauseForView(): void {
    this.channel.pause();
    this.skipTimer = setTimeout(() => {
      this.skipTimer = undefined;
      if (!this.flow.isPaused) return;
      this.viewBehind = true;
      this.channel.resume();
    }, this.pauseMs);
  }

  /** The renderer has taken `rows` more rows. */
  ack(rows: number): void {
    if (!this.flow.acked(rows)) return;
    this.viewBehind = false;
    if (this.skipTimer) clearTimeout(this.skipTimer);
    this.skipTimer = undefined;
    this.channel.resume();
  }

  private flush(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.batchTimer = undefined;
    this.quietTimer = undefined;
    this.unsent = 0;
    if (this.ended) return;
    const rows = this.pending;
    this.pending = [];
    const tally = this.tally;
    this.tally = emptyTally();
    const store = this.store;
    this.sink.packets(this.id, {
      rows,
      captured: store.count,
      bytes: store.bytes,
      skipped: this.skipped,
      dropped: store.dropped,
      droppedBytes: store.droppedBytes,
      ...(this.kernelDropped === undefined ? {} : { kernelDropped: this.kernelDropped }),
      at: Date.now() / 1000,
      tally,
    });
  }

  /** Stops tcpdump on the node (SIGINT, as Ctrl-C would), which ends the stream; resolves when it has. */
  async stop(reason = 'Stopped.'): Promise<void> {
    if (this.ended) return;
    this.stopping ??= reason;
    this.stopRequestedAt ??= Date.now() / 1000;
    // tcpdump runs without --immediate-mode: the kernel hands it packets in blocks, at the latest
    // after its 1 s buffer timeout. That costs up to a second of latency in the live list but
    // carries floods (measured: 20,000 packets in 1 s with no kernel drop, against 86% dropped in
    // immediate mode, where each packet wakes tcpdump and sshd once). Waiting out one timeout
    // before the signal makes the last block reach us instead of dying with tcpdump.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    if (this.ended) return;
    const closed = new Promise<void>((resolve) => this.channel.once('close', () => resolve()));
    try {
      this.channel.signal('INT');
    } catch {
      // older servers refuse signal requests: the kill below does it
    }
    if (this.pid !== undefined) {
      this.client.exec(`kill -INT ${this.pid} 2>/dev/null || sudo -n kill -INT ${this.pid} 2>/dev/null`, (error, killer) => {
        if (!error) killer.on('close', () => undefined).resume();
      });
    }
    // Generous: under load the kill above can take seconds to start, and tcpdump then prints its counts.
    const timer = setTimeout(() => this.channel.close(), 15_000);
    await closed;
    clearTimeout(timer);
  }

  private stopWith(reason: string): void {
    void this.stop(reason);
  }

  private finish(): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    if (this.skipTimer) clearTimeout(this.skipTimer);
    const kernelDropped = lastKernelDropped(this.stderr) ?? this.kernelDropped;
    const captured = this.store.count;
    const kept = this.store.dropped > 0 ? `the newest ${this.store.kept} of the ${captured} packets captured before are kept` : `the ${captured} packets captured before are kept`;
    const tcpdumpSaid = this.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('gingham-capture-pid') && !/^tcpdump: listening on|packets? (captured|received by filter|dropped by kernel)/.test(l))
      .join(' ');
    let reason: string;
    let error = false;
    if (this.stopping) reason = this.stopping;
    else if (!this.exited) {
      reason = `The connection to ${this.node} dropped; ${kept}.`;
      error = true;
    } else {
      reason = tcpdumpSaid ? `tcpdump on ${this.node} stopped: ${tcpdumpSaid}` : `tcpdump on ${this.node} exited.`;
      error = captured === 0 || tcpdumpSaid !== '';
    }
    this.sink.end(this.id, { reason, captured, ...(kernelDropped === undefined ? {} : { kernelDropped }), error });
  }

}
