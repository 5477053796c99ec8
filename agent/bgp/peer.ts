// One configured neighbour: its connections (at most one outgoing and one incoming, RFC 4271
// collision detection between them), reconnecting after failures, and what `status` reports.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { formatIPv4, parseIPv4 } from '../../shared/net/index.ts';
import type { OpenMessage } from './codec/open.ts';
import type { RouteRefreshMessage } from './codec/simple-messages.ts';
import type { DecodedUpdate } from './codec/update.ts';
import { Connection, type ConnectionHooks } from './connection.ts';
import { type FsmOptions, type FsmState, type Negotiated, connectRetryDelay, randomJitter, resolveCollision } from './fsm.ts';
import type { Capability } from './codec/open.ts';
import { PrefixTable } from './rib/prefix-table.ts';
import type { RouteSource } from './rib/route-attributes.ts';

export interface PeerSettings {
  address: string;
  port: number;
  asn: number;
  passive: boolean;
  routeReflectorClient: boolean;
  password?: string;
  holdTime: number;
  /** Seconds between KEEPALIVEs; default a third of the negotiated hold time. */
  keepaliveTime?: number;
  connectRetryTime: number;
  /** Cap of the connect-retry backoff in seconds. */
  connectRetryMax: number;
  /** Graceful restart time announced to this peer (Calico's maxRestartTime). */
  restartTime: number;
  /** Next hop towards this peer: self, keep, or BGP's rules (auto). */
  nextHop: 'auto' | 'self' | 'keep';
  importPolicy: 'all' | 'none';
  exportPolicy: 'all' | 'announced' | 'none' | 'ibgp-rules';
  peerType: string;
  /** Source address for outgoing connections (Calico: the node IP). */
  localAddress?: string;
}

export interface PeerEvents {
  onEstablished(peer: Peer): void;
  onDown(peer: Peer, wasEstablished: boolean, byNotification: boolean): void;
  onUpdate(peer: Peer, update: DecodedUpdate): void;
  onRouteRefresh(peer: Peer, message: RouteRefreshMessage): void;
  /** The established session has room to send again (its socket drained). */
  onWritable(peer: Peer): void;
  /** The capabilities to offer this peer on a new connection (graceful restart flags change over time). */
  capabilities(peer: Peer): Capability[];
  /** Opens a TCP connection with the peer's MD5 password set, when it has one. */
  dial(peer: Peer): Socket | Promise<Socket>;
}

export interface PeerStatistics {
  updatesReceived: number;
  prefixesReceived: number;
  withdrawalsReceived: number;
  treatAsWithdraw: number;
  attributesDiscarded: number;
  updatesSent: number;
  endOfRibReceived: boolean;
  /** Prefixes not sent because their attributes do not fit in one UPDATE of the session's size. */
  tooLargeToSend: number;
}

/**
 * A session that stayed Established this long ends the backoff: the next attempt waits only the
 * connect retry time again (BIRD's `error forget time`, 300 s by default).
 */
export const ERROR_FORGET_MS = 300_000;

export class Peer {
  readonly source: RouteSource;
  readonly connections = new Set<Connection>();
  established: Connection | undefined;
  negotiated: Negotiated | undefined;
  since = new Date();
  lastError = '';
  enabled = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** RFC 4271's ConnectRetryCounter, carried from one connection to the next: consecutive failures. */
  connectRetryCounter = 0;
  /** When the current session reached Established (to forget old failures after a stable session). */
  private establishedAt = 0;
  /** When the last established session went down (0: none has yet); the agent withdraws the node's routes a restart time after. */
  downAt = 0;
  /** The wait before the last reconnect after a failed session, in ms (for `status` and tests). */
  lastRetryDelayMs = 0;
  /** Description from the configuration (Calico: which node or BGPPeer made this peer). */
  description: string | undefined;
  /** Adj-RIB-Out: prefix -> attribute index advertised. */
  readonly adjRibOut = new PrefixTable(64);
  /**
   * Prefixes whose Adj-RIB-Out entry (or its absence: a withdrawal) is not sent yet, because the
   * session's send buffer is full (route-export.ts's backpressure). Values unused.
   */
  readonly unsent = new PrefixTable(64);
  /** Prefixes received but refused by import policy or loop checks (still "received"). */
  readonly rejected = new PrefixTable(64);
  stats: PeerStatistics = PeerStatsZero();
  /** Graceful restart helper state: our copies of its routes are stale until End-of-RIB. */
  staleSince: Date | undefined;
  staleTimer: NodeJS.Timeout | undefined;
  /** Our address on the established session: the next hop we announce (next-hop-self). */
  localAddress: number | undefined;
  private lastState: FsmState = 'Idle';

  constructor(
    readonly index: number,
    /** Replaced as a whole when a change applies without a session reset (export policy, next hop). */
    public settings: PeerSettings,
    private readonly localAs: number,
    private readonly routerId: number,
    private readonly events: PeerEvents,
    private readonly log: Logger,
  ) {
    this.source = {
      index,
      address: parseIPv4(settings.address),
      routerId: 0,
      asn: settings.asn,
      ebgp: settings.asn !== localAs,
      routeReflectorClient: settings.routeReflectorClient,
    };
  }

  get ebgp(): boolean {
    return this.source.ebgp;
  }

  get name(): string {
    return this.settings.port === 179 ? this.settings.address : `${this.settings.address}:${this.settings.port}`;
  }

  /** The most advanced FSM state among this peer's connections. */
  get state(): FsmState {
    const order: FsmState[] = ['Idle', 'Active', 'Connect', 'OpenSent', 'OpenConfirm', 'Established'];
    let best: FsmState = this.enabled && this.settings.passive ? 'Active' : 'Idle';
    for (const c of this.connections) if (order.indexOf(c.state) > order.indexOf(best)) best = c.state;
    return best;
  }

  start(): void {
    this.enabled = true;
    if (!this.settings.passive) this.connectOut();
    this.noteState();
  }

  /** Stops all connections; `quiet` closes TCP without NOTIFICATION (our graceful restart). */
  stop(quiet: boolean, subcode?: number): void {
    this.enabled = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    for (const c of [...this.connections]) c.stop(quiet, subcode);
  }

  private fsmOptions(): FsmOptions {
    return {
      localAs: this.localAs,
      routerId: this.routerId,
      peerAs: this.settings.asn,
      holdTime: this.settings.holdTime,
      connectRetryTime: this.settings.connectRetryTime,
      connectRetryMax: this.settings.connectRetryMax,
      connectRetryCounter: this.connectRetryCounter,
      ...(this.settings.keepaliveTime !== undefined ? { keepaliveTime: this.settings.keepaliveTime } : {}),
      capabilities: this.events.capabilities(this),
    };
  }

  private hooks(): ConnectionHooks {
    return {
      dial: () => this.events.dial(this),
      onOpenReceived: (conn, open) => this.onOpenReceived(conn, open),
      onEstablished: (conn, negotiated) => {
        this.established = conn;
        this.establishedAt = Date.now();
        this.negotiated = negotiated;
        this.source.routerId = negotiated.peerRouterId;
        this.lastError = '';
        this.log.info({ peer: this.name, holdTime: negotiated.holdTime, as4: negotiated.as4, addPath: negotiated.addPathReceive }, 'session established');
        this.events.onEstablished(this);
      },
      onUpdate: (conn, update) => {
        if (conn === this.established) this.events.onUpdate(this, update);
      },
      onRouteRefresh: (conn, message) => {
        if (conn === this.established) this.events.onRouteRefresh(this, message);
      },
      onDown: (conn, reason, wasEstablished, byNotification, counter) => this.onConnectionDown(conn, reason, wasEstablished, byNotification, counter),
      onStateChange: () => this.noteState(),
      onDrain: (conn) => {
        if (conn === this.established) this.events.onWritable(this);
      },
      onTransportError: (_conn, reason) => {
        if (!this.established) this.lastError = reason;
      },
    };
  }

  private connectOut(): void {
    if (!this.enabled || this.established) return;
    for (const c of this.connections) if (c.direction === 'outgoing') return;
    const conn = new Connection('outgoing', this.fsmOptions(), this.ebgp, this.hooks(), this.log.child({ peer: this.name, dir: 'out' }));
    this.connections.add(conn);
    conn.startOutgoing();
  }

  /** An incoming TCP connection from this peer's address. */
  accept(socket: Socket): void {
    if (!this.enabled) {
      socket.destroy();
      return;
    }
    for (const c of this.connections) {
      if (c.direction === 'incoming') {
        // A second incoming connection replaces a stale one that has not reached Established.
        // One that has: kept, unless the peer does graceful restart, whose OPEN on the new
        // connection then ends the old session (onOpenReceived).
        if (c.state === 'Established') {
          if (!this.restartsGracefully(c)) { socket.destroy(); return; }
          continue;
        }
        c.stop(true);
      }
    }
    const conn = new Connection('incoming', this.fsmOptions(), this.ebgp, this.hooks(), this.log.child({ peer: this.name, dir: 'in' }));
    this.connections.add(conn);
    conn.acceptIncoming(socket);
  }

  /** RFC 4271 6.8: with two connections both past OPEN, keep the one the higher identifier opened. */
  private onOpenReceived(conn: Connection, open: OpenMessage): void {
    for (const other of this.connections) {
      if (other === conn || other.closed) continue;
      if (other.state === 'Established') {
        if (this.restartsGracefully(other)) {
          // RFC 4724 4.2: an OPEN from a graceful-restart peer on a new connection means it
          // restarted: the old session is over (closed without NOTIFICATION, so that its routes
          // are kept as stale) and the new one goes on.
          this.log.info({ peer: this.name }, 'graceful restart: the peer opened a new session while the old one looked established; closing the old one');
          other.stop(true);
          continue;
        }
        this.log.info({ peer: this.name }, 'collision with an established session: closing the new connection');
        conn.dump();
        return;
      }
      if (other.state === 'OpenSent' || other.state === 'OpenConfirm') {
        const keep = resolveCollision(this.routerId, open.routerId, this.localAs, this.settings.asn);
        const loser = (keep === 'keepOutgoing') === (conn.direction === 'outgoing') ? other : conn;
        this.log.info({ peer: this.name, keep, local: formatIPv4(this.routerId), remote: formatIPv4(open.routerId) }, 'connection collision');
        loser.dump();
        if (loser === conn) return;
      } else if (other.state === 'Connect' || other.state === 'Active') {
        other.stop(true);
      }
    }
  }

  /** Whether the established session `conn` has graceful restart on both sides (negotiate() gives it only then). */
  private restartsGracefully(conn: Connection): boolean {
    return conn === this.established && this.negotiated?.gracefulRestart !== undefined;
  }

  private onConnectionDown(conn: Connection, reason: string, wasEstablished: boolean, byNotification: boolean, counter: number): void {
    this.connections.delete(conn);
    // The counter follows the connection that failed; a session that was stable for a while
    // starts the backoff again from the connect retry time.
    if (wasEstablished && Date.now() - this.establishedAt >= ERROR_FORGET_MS) this.connectRetryCounter = counter > 0 ? 1 : 0;
    else if (conn.direction === 'outgoing' || wasEstablished) this.connectRetryCounter = Math.max(this.connectRetryCounter, counter);
    if (!reason.startsWith('connection collision') && reason !== 'stopped') this.lastError = reason;
    if (conn === this.established) {
      this.established = undefined;
      this.downAt = Date.now();
      this.log.warn({ peer: this.name, reason }, 'session down');
      this.events.onDown(this, wasEstablished, byNotification);
      this.negotiated = undefined;
    }
    this.noteState();
    if (!this.enabled || this.settings.passive || this.established) return;
    if (this.connections.size === 0 || ![...this.connections].some((c) => c.direction === 'outgoing')) {
      if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
      // The ConnectRetryTimer with backoff: doubled per consecutive failure up to the cap, as
      // Calico's BIRD waits longer after repeated errors (error wait time 5,30).
      const s = this.settings;
      this.lastRetryDelayMs = Math.round(connectRetryDelay(s.connectRetryTime, s.connectRetryMax, this.connectRetryCounter - 1, randomJitter()) * 1000);
      this.reconnectTimer = setTimeout(() => this.connectOut(), this.lastRetryDelayMs);
      this.reconnectTimer.unref();
    }
  }

  private noteState(): void {
    const s = this.state;
    if (s !== this.lastState) {
      this.lastState = s;
      this.since = new Date();
    }
  }
}

function PeerStatsZero(): PeerStatistics {
  return { updatesReceived: 0, prefixesReceived: 0, withdrawalsReceived: 0, treatAsWithdraw: 0, attributesDiscarded: 0, updatesSent: 0, endOfRibReceived: false, tooLargeToSend: 0 };
}
