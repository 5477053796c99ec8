// The BGP finite-state machine of one connection (RFC 4271 section 8), as pure data: an event goes
// in, the new state and a list of actions (connect, send, start a timer, ...) come out. Sockets and
// clocks live in session.ts; a test steps this machine alone, as GoBGP's fsm.go can be.
import {
  CapabilityCode, CeaseSubcode, ErrorCode, FsmSubcode, OpenSubcode,
} from './codec/constants.ts';
import { type BgpError, bgpError, describeError } from './codec/errors.ts';
import { type Capability, type OpenMessage, localCapabilities, peerAsOf, summarizeCapabilities } from './codec/open.ts';
import type { NotificationMessage } from './codec/simple-messages.ts';
import { notificationName } from './codec/constants.ts';

export type FsmState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export type TimerName = 'connectRetry' | 'hold' | 'keepalive';

export type FsmEvent =
  | { type: 'ManualStart' }
  | { type: 'ManualStartPassive' }
  | { type: 'ManualStop'; subcode?: number; quiet?: boolean }
  | { type: 'ConnectRetryTimerExpires' }
  | { type: 'HoldTimerExpires' }
  | { type: 'KeepaliveTimerExpires' }
  /** An incoming connection from the peer was accepted. */
  | { type: 'TcpConnectionConfirmed' }
  /** Our outgoing connection completed. */
  | { type: 'TcpCRAcked' }
  | { type: 'TcpConnectionFails'; reason: string }
  | { type: 'BGPOpen'; open: OpenMessage }
  /** A message that could not be decoded (header, OPEN or UPDATE error): answer with its NOTIFICATION. */
  | { type: 'MessageError'; error: BgpError }
  | { type: 'OpenCollisionDump' }
  | { type: 'NotifMsg'; notification: NotificationMessage }
  | { type: 'KeepAliveMsg' }
  | { type: 'UpdateMsg' }
  | { type: 'RouteRefreshMsg' };

export type FsmAction =
  | { type: 'connect' }
  | { type: 'drop' }
  | { type: 'sendOpen'; open: OpenMessage }
  | { type: 'sendKeepalive' }
  | { type: 'sendNotification'; notification: NotificationMessage }
  | { type: 'startTimer'; timer: TimerName; seconds: number }
  | { type: 'stopTimer'; timer: TimerName }
  | { type: 'established'; negotiated: Negotiated }
  /**
   * The connection is over; `reason` is what `status` shows as the last error. `byNotification`:
   * a NOTIFICATION was sent or received (graceful restart applies only when it was not, RFC 4724).
   */
  | { type: 'down'; reason: string; wasEstablished: boolean; byNotification: boolean; connectRetryCounter: number }
  | { type: 'openReceived'; open: OpenMessage };

export interface FsmOptions {
  localAs: number;
  routerId: number;
  peerAs: number;
  /** Proposed hold time in seconds (0 disables keepalives and hold timing, 3 or more otherwise). */
  holdTime: number;
  /** ConnectRetryTime: the first wait between connection attempts, in seconds. */
  connectRetryTime: number;
  /** Cap of the backoff: the wait doubles with every consecutive failure up to this. Default: connectRetryTime (no backoff). */
  connectRetryMax?: number;
  /** ConnectRetryCounter carried over from the peer's earlier connections (failures so far). */
  connectRetryCounter?: number;
  /** The jitter factor for ConnectRetryTimer, 0.75 to 1 (RFC 4271 section 10); a test fixes it. */
  jitter?: () => number;
  /** Seconds between KEEPALIVEs as configured; default a third of the negotiated hold time. */
  keepaliveTime?: number;
  /** Hold timer while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes). */
  openHoldTime?: number;
  /** Capabilities to offer; by default what localCapabilities() gives. */
  capabilities?: Capability[];
}

/** What both sides agreed on, from the two OPENs. */
export interface Negotiated {
  holdTime: number;
  keepaliveTime: number;
  peerRouterId: number;
  peerAs: number;
  as4: boolean;
  /** The peer sends us path identifiers (it offered ADD-PATH send, we offered receive). */
  addPathReceive: boolean;
  extendedMessage: boolean;
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  /**
   * Graceful restart, present only when both sides offered it (RFC 4724 applies only then). The
   * peer's restart time and flags; `ipv4Unicast`: its capability lists IPv4 unicast, so its
   * routes are kept as stale when it restarts (none listed is BIRD's "aware" mode: it
   * understands End-of-RIB, but nothing is kept for it).
   */
  gracefulRestart?: { restartTime: number; restarting: boolean; forwarding: boolean; ipv4Unicast: boolean };
  peerCapabilities: Capability[];
  localCapabilities: Capability[];
}

/**
 * The keepalive interval for a negotiated hold time. Configured: scaled down as the hold time
 * was (as BIRD does), so that a peer offering a shorter hold time still gets keepalives in time.
 */
export function keepaliveInterval(negotiatedHold: number, localHold: number, configured?: number): number {
  if (negotiatedHold === 0) return 0;
  if (configured === undefined || localHold === 0) return Math.max(1, Math.floor(negotiatedHold / 3));
  return Math.max(1, Math.floor((configured * negotiatedHold) / localHold));
}

/**
 * The ConnectRetryTimer's length after `failures` consecutive failures: doubled per failure
 * from `base`, at most `max`, times a jitter factor (0.75 to 1, RFC 4271 section 10).
 */
export function connectRetryDelay(base: number, max: number, failures: number, jitter: number): number {
  const doubled = base * 2 ** Math.min(Math.max(failures, 0), 20);
  return Math.min(doubled, Math.max(max, base)) * jitter;
}

export const randomJitter = (): number => 0.75 + Math.random() * 0.25;

export function negotiate(local: Capability[], localHoldTime: number, open: OpenMessage, keepaliveTime?: number): Negotiated {
  const mine = summarizeCapabilities(local);
  const theirs = summarizeCapabilities(open.capabilities);
  const holdTime = Math.min(localHoldTime, open.holdTime);
  const gr = mine.gracefulRestart ? theirs.gracefulRestart : undefined;
  return {
    holdTime,
    keepaliveTime: keepaliveInterval(holdTime, localHoldTime, keepaliveTime),
    peerRouterId: open.routerId,
    peerAs: peerAsOf(open),
    as4: mine.fourOctetAs !== undefined && theirs.fourOctetAs !== undefined,
    addPathReceive: ((mine.addPathIpv4 ?? 0) & 1) !== 0 && ((theirs.addPathIpv4 ?? 0) & 2) !== 0,
    extendedMessage: mine.extendedMessage && theirs.extendedMessage,
    routeRefresh: theirs.routeRefresh,
    enhancedRouteRefresh: mine.enhancedRouteRefresh && theirs.enhancedRouteRefresh,
    ...(gr ? { gracefulRestart: { restartTime: gr.restartTime, restarting: gr.restarting, forwarding: gr.ipv4Forwarding === true, ipv4Unicast: gr.ipv4Forwarding !== undefined } } : {}),
    peerCapabilities: open.capabilities,
    localCapabilities: local,
  };
}

const cease = (subcode: number): NotificationMessage => ({ code: ErrorCode.Cease, subcode, data: Buffer.alloc(0) });

export class Fsm {
  state: FsmState = 'Idle';
  negotiated: Negotiated | undefined;
  readonly capabilities: Capability[];
  /** RFC 4271 8: consecutive failures; each makes the next ConnectRetryTimer longer (up to the cap). */
  connectRetryCounter: number;

  constructor(readonly options: FsmOptions) {
    this.capabilities = options.capabilities ?? localCapabilities({ asn: options.localAs });
    this.connectRetryCounter = options.connectRetryCounter ?? 0;
  }

  /** The next ConnectRetryTimer length: the connect retry time after the first failure, doubled per further one. */
  retryDelay(): number {
    const o = this.options;
    return connectRetryDelay(o.connectRetryTime, o.connectRetryMax ?? o.connectRetryTime, this.connectRetryCounter - 1, (o.jitter ?? randomJitter)());
  }

  private openMessage(): OpenMessage {
    return {
      version: 4,
      myAs: this.options.localAs,
      holdTime: this.options.holdTime,
      routerId: this.options.routerId,
      capabilities: this.capabilities,
      otherParameters: [],
    };
  }

  /** Checks the peer's OPEN against what is configured (RFC 4271 6.2, RFC 6286). */
  validateOpen(open: OpenMessage): BgpError | undefined {
    if (open.otherParameters.length > 0) {
      return bgpError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedOptionalParameter, `unsupported optional parameter ${open.otherParameters[0]!.type}`);
    }
    const peerAs = peerAsOf(open);
    if (peerAs !== this.options.peerAs) {
      const data = Buffer.alloc(2);
      data.writeUInt16BE(open.myAs);
      return bgpError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, `the peer says AS ${peerAs}, configured is AS ${this.options.peerAs}`, data);
    }
    if (peerAs === this.options.localAs && open.routerId === this.options.routerId) {
      return bgpError(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier, 'the peer has our own BGP identifier');
    }
    const fourOctet = open.capabilities.find((c) => c.code === CapabilityCode.FourOctetAs);
    if (this.options.peerAs > 0xffff && !fourOctet) {
      return bgpError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, `AS ${this.options.peerAs} needs the 4-octet AS capability, which the peer does not offer`);
    }
    return undefined;
  }

  handle(event: FsmEvent): FsmAction[] {
    const out: FsmAction[] = [];
    const o = this.options;
    const toIdle = (reason: string, notification?: NotificationMessage, byNotification = false, failure = true): void => {
      const wasEstablished = this.state === 'Established';
      // RFC 4271 8.2.2: errors increment the ConnectRetryCounter; a manual stop resets it.
      if (failure) this.connectRetryCounter++;
      else if (event.type === 'ManualStop') this.connectRetryCounter = 0;
      if (notification) out.push({ type: 'sendNotification', notification });
      out.push({ type: 'stopTimer', timer: 'connectRetry' }, { type: 'stopTimer', timer: 'hold' }, { type: 'stopTimer', timer: 'keepalive' });
      out.push({ type: 'drop' }, { type: 'down', reason, wasEstablished, byNotification: byNotification || notification !== undefined, connectRetryCounter: this.connectRetryCounter });
      this.state = 'Idle';
    };
    const fsmError = (): void => {
      const subcode = this.state === 'OpenSent' ? FsmSubcode.UnexpectedInOpenSent
        : this.state === 'OpenConfirm' ? FsmSubcode.UnexpectedInOpenConfirm
          : this.state === 'Established' ? FsmSubcode.UnexpectedInEstablished : FsmSubcode.Unspecified;
      toIdle(`unexpected ${event.type} in ${this.state}`, { code: ErrorCode.FsmError, subcode, data: Buffer.alloc(0) });
    };
    const sendOpen = (): void => {
      out.push({ type: 'stopTimer', timer: 'connectRetry' }, { type: 'sendOpen', open: this.openMessage() });
      out.push({ type: 'startTimer', timer: 'hold', seconds: o.openHoldTime ?? 240 });
      this.state = 'OpenSent';
    };
    // Events every state past Idle answers the same way.
    if (this.state !== 'Idle') {
      switch (event.type) {
        case 'ManualStop':
          if (this.state === 'Connect' || this.state === 'Active' || event.quiet) toIdle('stopped', undefined, false, false);
          else toIdle('stopped', cease(event.subcode ?? CeaseSubcode.AdministrativeShutdown), false, false);
          return out;
        case 'NotifMsg': {
          const n = event.notification;
          toIdle(`the peer sent ${notificationName(n.code, n.subcode)}`, undefined, true);
          return out;
        }
        case 'MessageError':
          toIdle(describeError(event.error), { code: event.error.code, subcode: event.error.subcode, data: event.error.data });
          return out;
        case 'HoldTimerExpires':
          if (this.state === 'Connect' || this.state === 'Active') break;
          toIdle('hold timer expired', { code: ErrorCode.HoldTimerExpired, subcode: 0, data: Buffer.alloc(0) });
          return out;
        case 'OpenCollisionDump':
          if (this.state === 'Connect' || this.state === 'Active') { toIdle('connection collision: the other connection won', undefined, false, false); return out; }
          toIdle('connection collision: the other connection won', cease(CeaseSubcode.ConnectionCollisionResolution), false, false);
          return out;
        case 'TcpConnectionFails':
          if (this.state === 'Connect' || this.state === 'Active') break;
          toIdle(event.reason);
          return out;
        default:
          break;
      }
    }
    switch (this.state) {
      case 'Idle':
        if (event.type === 'ManualStart') {
          out.push({ type: 'startTimer', timer: 'connectRetry', seconds: this.retryDelay() }, { type: 'connect' });
          this.state = 'Connect';
        } else if (event.type === 'ManualStartPassive') {
          this.state = 'Active';
        }
        // Everything else is ignored in Idle (RFC 4271 8.2.2).
        break;
      case 'Connect':
        switch (event.type) {
          case 'ConnectRetryTimerExpires':
            // The attempt timed out: a failure, so the next wait is longer.
            this.connectRetryCounter++;
            out.push({ type: 'drop' }, { type: 'startTimer', timer: 'connectRetry', seconds: this.retryDelay() }, { type: 'connect' });
            break;
          case 'TcpCRAcked':
          case 'TcpConnectionConfirmed':
            sendOpen();
            break;
          case 'TcpConnectionFails':
            this.connectRetryCounter++;
            out.push({ type: 'drop' }, { type: 'startTimer', timer: 'connectRetry', seconds: this.retryDelay() });
            this.state = 'Active';
            break;
          case 'ManualStart': case 'ManualStartPassive': case 'KeepaliveTimerExpires':
            break;
          default:
            toIdle(`unexpected ${event.type} in Connect`);
        }
        break;
      case 'Active':
        switch (event.type) {
          case 'ConnectRetryTimerExpires':
            out.push({ type: 'startTimer', timer: 'connectRetry', seconds: this.retryDelay() }, { type: 'connect' });
            this.state = 'Connect';
            break;
          case 'TcpCRAcked':
          case 'TcpConnectionConfirmed':
            sendOpen();
            break;
          case 'TcpConnectionFails':
            break;
          case 'ManualStart': case 'ManualStartPassive': case 'KeepaliveTimerExpires':
            break;
          default:
            toIdle(`unexpected ${event.type} in Active`);
        }
        break;
      case 'OpenSent':
        switch (event.type) {
          case 'BGPOpen': {
            const error = this.validateOpen(event.open);
            if (error) {
              toIdle(describeError(error), { code: error.code, subcode: error.subcode, data: error.data });
              break;
            }
            this.negotiated = negotiate(this.capabilities, o.holdTime, event.open, o.keepaliveTime);
            out.push({ type: 'openReceived', open: event.open });
            out.push({ type: 'stopTimer', timer: 'connectRetry' }, { type: 'sendKeepalive' });
            if (this.negotiated.holdTime > 0) {
              out.push({ type: 'startTimer', timer: 'keepalive', seconds: this.negotiated.keepaliveTime });
              out.push({ type: 'startTimer', timer: 'hold', seconds: this.negotiated.holdTime });
            } else {
              out.push({ type: 'stopTimer', timer: 'hold' });
            }
            this.state = 'OpenConfirm';
            break;
          }
          case 'ConnectRetryTimerExpires': case 'KeepaliveTimerExpires': case 'ManualStart': case 'ManualStartPassive':
          case 'TcpConnectionConfirmed': case 'TcpCRAcked':
            break;
          default:
            fsmError();
        }
        break;
      case 'OpenConfirm':
        switch (event.type) {
          case 'KeepAliveMsg':
            if (this.negotiated!.holdTime > 0) out.push({ type: 'startTimer', timer: 'hold', seconds: this.negotiated!.holdTime });
            this.state = 'Established';
            out.push({ type: 'established', negotiated: this.negotiated! });
            break;
          case 'KeepaliveTimerExpires':
            out.push({ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: this.negotiated!.keepaliveTime });
            break;
          case 'ConnectRetryTimerExpires': case 'ManualStart': case 'ManualStartPassive':
          case 'TcpConnectionConfirmed': case 'TcpCRAcked':
            break;
          default:
            fsmError();
        }
        break;
      case 'Established':
        switch (event.type) {
          case 'KeepAliveMsg':
          case 'UpdateMsg':
          case 'RouteRefreshMsg':
            if (this.negotiated!.holdTime > 0) out.push({ type: 'startTimer', timer: 'hold', seconds: this.negotiated!.holdTime });
            break;
          case 'KeepaliveTimerExpires':
            out.push({ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: this.negotiated!.keepaliveTime });
            break;
          case 'ConnectRetryTimerExpires': case 'ManualStart': case 'ManualStartPassive':
          case 'TcpConnectionConfirmed': case 'TcpCRAcked':
            break;
          default:
            fsmError();
        }
        break;
    }
    return out;
  }
}

/**
 * RFC 4271 6.8: when two connections to one peer both reach OPEN, the one initiated by the speaker
 * with the higher BGP identifier survives. Equal identifiers (allowed between ASes, RFC 6286):
 * the one initiated by the larger AS; comparing identifiers alone, both sides would keep the
 * connection the other opened, closing both, again and again. Returns which of ours to keep.
 */
export function resolveCollision(localRouterId: number, peerRouterId: number, localAs = 0, peerAs = 0): 'keepOutgoing' | 'keepIncoming' {
  if ((localRouterId >>> 0) === (peerRouterId >>> 0)) return localAs > peerAs ? 'keepOutgoing' : 'keepIncoming';
  return (localRouterId >>> 0) > (peerRouterId >>> 0) ? 'keepOutgoing' : 'keepIncoming';
}
