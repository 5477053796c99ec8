// One TCP connection to a peer: frames the byte stream into messages, feeds the FSM and carries
// out its actions (sockets, timers, sends). A peer can have two of these at once during a
// collision; peer.ts decides which survives.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { EXTENDED_MAX_MESSAGE_LENGTH, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType } from './codec/constants.ts';
import { checkHeader, isHeader } from './codec/header.ts';
import { decodeMessage } from './codec/message.ts';
import { type OpenMessage, encodeOpen } from './codec/open.ts';
import { type RouteRefreshMessage, encodeKeepalive, encodeNotification } from './codec/simple-messages.ts';
import type { DecodedUpdate, UpdateContext } from './codec/update.ts';
import { Fsm, type FsmAction, type FsmEvent, type FsmOptions, type Negotiated, type TimerName } from './fsm.ts';

export type Direction = 'incoming' | 'outgoing';

export interface ConnectionHooks {
  /** Opens the outgoing TCP connection (plain node:net, or with TCP-MD5). */
  dial(): Socket | Promise<Socket>;
  onOpenReceived(conn: Connection, open: OpenMessage): void;
  onEstablished(conn: Connection, negotiated: Negotiated): void;
  onUpdate(conn: Connection, update: DecodedUpdate): void;
  onRouteRefresh(conn: Connection, message: RouteRefreshMessage): void;
  /** `connectRetryCounter`: the FSM's consecutive failures, for the peer to carry to its next connection. */
  onDown(conn: Connection, reason: string, wasEstablished: boolean, byNotification: boolean, connectRetryCounter: number): void;
  onStateChange(conn: Connection): void;
  /** A TCP-level failure, also those the FSM absorbs by retrying (for `status`). */
  onTransportError(conn: Connection, reason: string): void;
  /** What was written has gone to the kernel: room to send more (backpressure). */
  onDrain(conn: Connection): void;
}

export class Connection {
  readonly fsm: Fsm;
  socket: Socket | undefined;
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  private pending: Buffer | undefined;
  private decodeCtx: UpdateContext & { maxLength: number };
  /** Where to send UPDATEs: set when Established. */
  encodeCtx: UpdateContext = { as4: true, addPath: false, ebgp: false };
  maxLength = MAX_MESSAGE_LENGTH;
  closed = false;
  messagesIn = 0;
  messagesOut = 0;

  constructor(
    readonly direction: Direction,
    fsmOptions: FsmOptions,
    private readonly ebgp: boolean,
    private readonly hooks: ConnectionHooks,
    private readonly log: Logger,
  ) {
    this.fsm = new Fsm(fsmOptions);
    this.decodeCtx = { as4: true, addPath: false, ebgp, maxLength: MAX_MESSAGE_LENGTH };
  }

  get state() {
    return this.fsm.state;
  }

  startOutgoing(): void {
    this.dispatch({ type: 'ManualStart' });
  }

  acceptIncoming(socket: Socket): void {
    this.dispatch({ type: 'ManualStartPassive' });
    this.attach(socket);
    this.dispatch({ type: 'TcpConnectionConfirmed' });
  }

  /** Stops the connection: Cease unless `quiet` (our graceful restart: just close TCP). */
  stop(quiet: boolean, subcode?: number): void {
    this.dispatch({ type: 'ManualStop', quiet, ...(subcode !== undefined ? { subcode } : {}) });
  }

  dump(): void {
    this.dispatch({ type: 'OpenCollisionDump' });
  }

  /** Bytes written but not yet taken by the kernel (a slow or zero-window peer makes this grow). */
  get writableLength(): number {
    return this.socket?.writableLength ?? 0;
  }

  send(buf: Buffer): void {
    if (!this.socket || this.closed) return;
    this.messagesOut++;
    this.socket.write(buf);
  }

  dispatch(event: FsmEvent): void {
    if (this.closed && event.type !== 'ManualStart') return;
    const before = this.fsm.state;
    const actions = this.fsm.handle(event);
    for (const action of actions) this.perform(action);
    if (this.fsm.state !== before) this.hooks.onStateChange(this);
  }

  private perform(action: FsmAction): void {
    switch (action.type) {
      case 'connect': {
        const dialed = this.hooks.dial();
        if (dialed instanceof Promise) {
          // TCP-MD5: the addon connects; the socket arrives connected.
          dialed.then((socket) => {
            if (this.closed || (this.fsm.state !== 'Connect' && this.fsm.state !== 'Active')) { socket.destroy(); return; }
            this.attach(socket);
            this.dispatch({ type: 'TcpCRAcked' });
          }, (error: Error) => {
            const reason = `Socket: ${socketErrorText({ code: error.message, message: error.message })}`;
            this.hooks.onTransportError(this, reason);
            this.dispatch({ type: 'TcpConnectionFails', reason });
          });
          break;
        }
        this.attach(dialed);
        dialed.once('connect', () => this.dispatch({ type: 'TcpCRAcked' }));
        break;
      }
      case 'drop':
        this.detach();
        break;
      case 'sendOpen':
        this.send(encodeOpen(action.open));
        break;
      case 'sendKeepalive':
        this.send(encodeKeepalive());
        break;
      case 'sendNotification':
        this.send(encodeNotification(action.notification));
        this.log.warn({ code: action.notification.code, subcode: action.notification.subcode }, 'sent NOTIFICATION');
        break;
      case 'startTimer': {
        this.clearTimer(action.timer);
        const event: FsmEvent = action.timer === 'hold' ? { type: 'HoldTimerExpires' }
          : action.timer === 'keepalive' ? { type: 'KeepaliveTimerExpires' } : { type: 'ConnectRetryTimerExpires' };
        const timer = setTimeout(() => { this.timers.delete(action.timer); this.dispatch(event); }, action.seconds * 1000);
        timer.unref();
        this.timers.set(action.timer, timer);
        break;
      }
      case 'stopTimer':
        this.clearTimer(action.timer);
        break;
      case 'openReceived':
        this.hooks.onOpenReceived(this, action.open);
        break;
      case 'established': {
        const n = action.negotiated;
        this.maxLength = n.extendedMessage ? EXTENDED_MAX_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
        this.decodeCtx = { as4: n.as4, addPath: n.addPathReceive, ebgp: this.ebgp, maxLength: this.maxLength };
        this.encodeCtx = { as4: n.as4, addPath: false, ebgp: this.ebgp };
        this.hooks.onEstablished(this, n);
        break;
      }
      case 'down':
        this.closed = true;
        for (const name of [...this.timers.keys()]) this.clearTimer(name);
        this.hooks.onDown(this, action.reason, action.wasEstablished, action.byNotification, action.connectRetryCounter);
        break;
    }
  }

  private clearTimer(name: TimerName): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  private attach(socket: Socket): void {
    this.detach();
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.socket !== socket) return;
      const reason = `Socket: ${socketErrorText(error)}`;
      this.hooks.onTransportError(this, reason);
      this.dispatch({ type: 'TcpConnectionFails', reason });
    });
    socket.on('drain', () => {
      if (this.socket === socket) this.hooks.onDrain(this);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.dispatch({ type: 'TcpConnectionFails', reason: 'the peer closed the connection' });
    });
  }

  private detach(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.pending = undefined;
    if (socket) {
      // end() lets a queued NOTIFICATION go out before the FIN; destroy soon after in any case.
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    }
  }

  /** Cuts complete messages out of the stream and handles each; keeps the tail for later. */
  private receive(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let offset = 0;
    const socket = this.socket;
    while (buf.length - offset >= HEADER_LENGTH && this.socket === socket && socket) {
      const header = checkHeader(buf, offset, this.decodeCtx.maxLength);
      if (!isHeader(header)) {
        this.dispatch({ type: 'MessageError', error: header });
        return;
      }
      if (buf.length - offset < header.length) break;
      const msg = buf.subarray(offset, offset + header.length);
      offset += header.length;
      this.handleMessage(msg);
    }
    if (offset < buf.length && this.socket === socket && socket) {
      // Copy the tail: it must not pin the whole chunk it came in.
      this.pending = Buffer.from(buf.subarray(offset));
    }
  }

  private handleMessage(msg: Buffer): void {
    this.messagesIn++;
    const decoded = decodeMessage(msg, this.decodeCtx);
    if (!decoded.ok) {
      this.dispatch({ type: 'MessageError', error: decoded.error });
      return;
    }
    const m = decoded.value;
    switch (m.type) {
      case MessageType.Open:
        this.dispatch({ type: 'BGPOpen', open: m.open });
        break;
      case MessageType.Keepalive:
        this.dispatch({ type: 'KeepAliveMsg' });
        break;
      case MessageType.Notification:
        this.log.warn({ code: m.notification.code, subcode: m.notification.subcode }, 'received NOTIFICATION');
        this.dispatch({ type: 'NotifMsg', notification: m.notification });
        break;
      case MessageType.Update:
        this.dispatch({ type: 'UpdateMsg' });
        if (this.fsm.state === 'Established') this.hooks.onUpdate(this, m.update);
        break;
      case MessageType.RouteRefresh:
        this.dispatch({ type: 'RouteRefreshMsg' });
        if (this.fsm.state === 'Established') this.hooks.onRouteRefresh(this, m.routeRefresh);
        break;
    }
  }
}

/** Socket errors as BIRD words them in its INFO column ("Active Socket: Connection refused"). */
const socketErrors: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EPIPE: 'Broken pipe',
};

function socketErrorText(error: { code?: string; message: string }): string {
  return (error.code && socketErrors[error.code]) ?? error.message;
}
