import { describe, expect, it } from 'vitest';
import { CapabilityCode, CeaseSubcode, ErrorCode, FsmSubcode, OpenSubcode } from './codec/constants.ts';
import { bgpError } from './codec/errors.ts';
import { type OpenMessage, localCapabilities } from './codec/open.ts';
import { Fsm, type FsmAction, type FsmEvent, connectRetryDelay, keepaliveInterval, negotiate, resolveCollision } from './fsm.ts';

const LOCAL_ID = 0x0a000001;
const PEER_ID = 0x0a000002;

function fsm(holdTime = 90) {
  return new Fsm({ localAs: 64512, routerId: LOCAL_ID, peerAs: 64512, holdTime, connectRetryTime: 5 });
}

function peerOpen(overrides: Partial<OpenMessage> = {}): OpenMessage {
  return { version: 4, myAs: 64512, holdTime: 30, routerId: PEER_ID, capabilities: localCapabilities({ asn: 64512 }), otherParameters: [], ...overrides };
}

function types(actions: FsmAction[]): string[] {
  return actions.map((a) => (a.type === 'startTimer' || a.type === 'stopTimer' ? `${a.type}:${a.timer}` : a.type));
}

function notification(actions: FsmAction[]) {
  const n = actions.find((a) => a.type === 'sendNotification');
  return n && n.type === 'sendNotification' ? [n.notification.code, n.notification.subcode] : undefined;
}

function run(f: Fsm, ...events: FsmEvent[]): FsmAction[] {
  let last: FsmAction[] = [];
  for (const e of events) last = f.handle(e);
  return last;
}

function established(holdTime = 90): Fsm {
  const f = fsm(holdTime);
  run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' }, { type: 'BGPOpen', open: peerOpen() }, { type: 'KeepAliveMsg' });
  expect(f.state).toBe('Established');
  return f;
}

describe('BGP FSM', () => {
  it('Idle -> Connect on start: connects and starts the ConnectRetry timer', () => {
    const f = fsm();
    expect(types(f.handle({ type: 'ManualStart' }))).toEqual(['startTimer:connectRetry', 'connect']);
    expect(f.state).toBe('Connect');
  });

  it('a passive start waits in Active without connecting', () => {
    const f = fsm();
    expect(f.handle({ type: 'ManualStartPassive' })).toEqual([]);
    expect(f.state).toBe('Active');
    expect(types(f.handle({ type: 'TcpConnectionConfirmed' }))).toEqual(['stopTimer:connectRetry', 'sendOpen', 'startTimer:hold']);
    expect(f.state).toBe('OpenSent');
  });

  it('Connect: ConnectRetry expiry reconnects; a failed connection moves to Active, whose timer reconnects', () => {
    const f = fsm();
    f.handle({ type: 'ManualStart' });
    expect(types(f.handle({ type: 'ConnectRetryTimerExpires' }))).toEqual(['drop', 'startTimer:connectRetry', 'connect']);
    expect(f.state).toBe('Connect');
    f.handle({ type: 'TcpConnectionFails', reason: 'refused' });
    expect(f.state).toBe('Active');
    expect(types(f.handle({ type: 'ConnectRetryTimerExpires' }))).toEqual(['startTimer:connectRetry', 'connect']);
    expect(f.state).toBe('Connect');
  });

  it('Connect -> OpenSent when the TCP connection completes: sends OPEN with a 4-minute hold timer', () => {
    const f = fsm();
    f.handle({ type: 'ManualStart' });
    const actions = f.handle({ type: 'TcpCRAcked' });
    expect(types(actions)).toEqual(['stopTimer:connectRetry', 'sendOpen', 'startTimer:hold']);
    expect(actions[2]).toMatchObject({ seconds: 240 });
    expect(f.state).toBe('OpenSent');
  });

  it('OpenSent -> OpenConfirm on a valid OPEN: negotiates the smaller hold time, keepalive a third of it', () => {
    const f = fsm(90);
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' });
    const actions = f.handle({ type: 'BGPOpen', open: peerOpen({ holdTime: 30 }) });
    expect(types(actions)).toEqual(['openReceived', 'stopTimer:connectRetry', 'sendKeepalive', 'startTimer:keepalive', 'startTimer:hold']);
    expect(actions.filter((a) => a.type === 'startTimer').map((a) => (a as { seconds: number }).seconds)).toEqual([10, 30]);
    expect(f.state).toBe('OpenConfirm');
    expect(f.negotiated).toMatchObject({ holdTime: 30, keepaliveTime: 10, as4: true, peerRouterId: PEER_ID, routeRefresh: true });
  });

  it('hold time 0 disables the keepalive and hold timers', () => {
    const f = fsm(0);
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' });
    expect(types(f.handle({ type: 'BGPOpen', open: peerOpen() }))).toEqual(['openReceived', 'stopTimer:connectRetry', 'sendKeepalive', 'stopTimer:hold']);
  });

  it('OpenSent: a wrong peer AS is answered with Bad Peer AS and the session goes Idle', () => {
    const f = fsm();
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' });
    const actions = f.handle({ type: 'BGPOpen', open: peerOpen({ myAs: 65000, capabilities: localCapabilities({ asn: 65000 }) }) });
    expect(notification(actions)).toEqual([ErrorCode.OpenMessage, OpenSubcode.BadPeerAs]);
    expect(types(actions)).toContain('drop');
    expect(f.state).toBe('Idle');
  });

  it('OpenSent: an iBGP peer with our own identifier gets Bad BGP Identifier', () => {
    const f = fsm();
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' });
    expect(notification(f.handle({ type: 'BGPOpen', open: peerOpen({ routerId: LOCAL_ID }) }))).toEqual([ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier]);
  });

  it('OpenSent: a KEEPALIVE before OPEN is an FSM error (RFC 6608 subcode 1)', () => {
    const f = fsm();
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' });
    expect(notification(f.handle({ type: 'KeepAliveMsg' }))).toEqual([ErrorCode.FsmError, FsmSubcode.UnexpectedInOpenSent]);
    expect(f.state).toBe('Idle');
  });

  it('OpenConfirm -> Established on KEEPALIVE, reporting what was negotiated', () => {
    const f = fsm();
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' }, { type: 'BGPOpen', open: peerOpen() });
    const actions = f.handle({ type: 'KeepAliveMsg' });
    expect(types(actions)).toEqual(['startTimer:hold', 'established']);
    expect(f.state).toBe('Established');
  });

  it('OpenConfirm: an UPDATE is an FSM error (subcode 2)', () => {
    const f = fsm();
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' }, { type: 'BGPOpen', open: peerOpen() });
    expect(notification(f.handle({ type: 'UpdateMsg' }))).toEqual([ErrorCode.FsmError, FsmSubcode.UnexpectedInOpenConfirm]);
  });

  it('Established: KEEPALIVE and UPDATE restart the hold timer; the keepalive timer sends KEEPALIVEs', () => {
    const f = established();
    expect(types(f.handle({ type: 'KeepAliveMsg' }))).toEqual(['startTimer:hold']);
    expect(types(f.handle({ type: 'UpdateMsg' }))).toEqual(['startTimer:hold']);
    expect(types(f.handle({ type: 'KeepaliveTimerExpires' }))).toEqual(['sendKeepalive', 'startTimer:keepalive']);
  });

  it('Established: hold timer expiry sends Hold Timer Expired and goes Idle', () => {
    const f = established();
    const actions = f.handle({ type: 'HoldTimerExpires' });
    expect(notification(actions)).toEqual([ErrorCode.HoldTimerExpired, 0]);
    expect(actions.find((a) => a.type === 'down')).toMatchObject({ reason: 'hold timer expired', wasEstablished: true });
    expect(f.state).toBe('Idle');
  });

  it('Established: a second OPEN is an FSM error (subcode 3)', () => {
    expect(notification(established().handle({ type: 'BGPOpen', open: peerOpen() }))).toEqual([ErrorCode.FsmError, FsmSubcode.UnexpectedInEstablished]);
  });

  it('Established: a decoding error is answered with its own NOTIFICATION', () => {
    const actions = established().handle({ type: 'MessageError', error: bgpError(3, 10, 'bad NLRI') });
    expect(notification(actions)).toEqual([3, 10]);
  });

  it('Established: a NOTIFICATION from the peer drops the session without answering', () => {
    const f = established();
    const actions = f.handle({ type: 'NotifMsg', notification: { code: 6, subcode: 2, data: Buffer.alloc(0) } });
    expect(notification(actions)).toBeUndefined();
    expect(actions.find((a) => a.type === 'down')).toMatchObject({ reason: 'the peer sent Cease / Administrative Shutdown', byNotification: true });
  });

  it('Established: a TCP failure drops the session (no NOTIFICATION: graceful restart keeps routes)', () => {
    const f = established();
    const actions = f.handle({ type: 'TcpConnectionFails', reason: 'connection reset' });
    expect(notification(actions)).toBeUndefined();
    expect(f.state).toBe('Idle');
  });

  it('stop sends Cease / Administrative Shutdown, or nothing when quiet (our graceful restart)', () => {
    expect(notification(established().handle({ type: 'ManualStop' }))).toEqual([ErrorCode.Cease, CeaseSubcode.AdministrativeShutdown]);
    expect(notification(established().handle({ type: 'ManualStop', quiet: true }))).toBeUndefined();
  });

  it('collision dump sends Cease / Connection Collision Resolution', () => {
    const f = fsm();
    run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' }, { type: 'BGPOpen', open: peerOpen() });
    expect(notification(f.handle({ type: 'OpenCollisionDump' }))).toEqual([ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution]);
  });

  it('collision resolution keeps the connection of the speaker with the higher identifier', () => {
    expect(resolveCollision(0x0a000002, 0x0a000001)).toBe('keepOutgoing');
    expect(resolveCollision(0x0a000001, 0x0a000002)).toBe('keepIncoming');
    expect(resolveCollision(0xc0000001, 0x0a000002)).toBe('keepOutgoing');
    // Equal identifiers (eBGP, RFC 6286): the larger AS's connection, so that both sides agree.
    expect(resolveCollision(0x0a000009, 0x0a000009, 65001, 64512)).toBe('keepOutgoing');
    expect(resolveCollision(0x0a000009, 0x0a000009, 64512, 65001)).toBe('keepIncoming');
  });

  it('Idle ignores everything but start', () => {
    const f = fsm();
    for (const e of [{ type: 'KeepAliveMsg' }, { type: 'HoldTimerExpires' }, { type: 'TcpConnectionConfirmed' }] as FsmEvent[]) {
      expect(f.handle(e)).toEqual([]);
      expect(f.state).toBe('Idle');
    }
  });

  it('ConnectRetryTimer backs off: doubled per consecutive failure up to the cap, jitter 0.75-1 (RFC 4271 8, 10)', () => {
    const f = new Fsm({ localAs: 64512, routerId: LOCAL_ID, peerAs: 64512, holdTime: 90, connectRetryTime: 5, connectRetryMax: 30, jitter: () => 1 });
    const retry = (actions: FsmAction[]) => actions.flatMap((a) => (a.type === 'startTimer' && a.timer === 'connectRetry' ? [a.seconds] : []));
    expect(retry(f.handle({ type: 'ManualStart' }))).toEqual([5]);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      waits.push(...retry(f.handle({ type: 'TcpConnectionFails', reason: 'refused' })));
      f.handle({ type: 'ConnectRetryTimerExpires' });
    }
    expect(waits).toEqual([5, 10, 20, 30, 30, 30]);
    expect(f.connectRetryCounter).toBe(6);
    // A session that fails later counts too, and the counter goes out with `down` for the peer to carry on.
    const g = new Fsm({ localAs: 64512, routerId: LOCAL_ID, peerAs: 64512, holdTime: 90, connectRetryTime: 5, connectRetryMax: 30, connectRetryCounter: 2, jitter: () => 0.75 });
    expect(retry(g.handle({ type: 'ManualStart' }))).toEqual([7.5]);
    run(g, { type: 'TcpCRAcked' });
    const down = g.handle({ type: 'HoldTimerExpires' }).find((a) => a.type === 'down');
    expect(down).toMatchObject({ connectRetryCounter: 3 });
    // A manual stop is no failure: the counter starts again (RFC 4271 8.2.2).
    const h = established();
    h.connectRetryCounter = 4;
    expect(h.handle({ type: 'ManualStop' }).find((a) => a.type === 'down')).toMatchObject({ connectRetryCounter: 0 });
    expect(connectRetryDelay(5, 30, 10, 1)).toBe(30);
    expect(connectRetryDelay(5, 2, 0, 1)).toBe(5);
  });

  it('keepalive interval: a third of the hold time, or the configured one scaled to the negotiated hold time (as BIRD)', () => {
    expect(keepaliveInterval(90, 90)).toBe(30);
    expect(keepaliveInterval(0, 90, 10)).toBe(0);
    expect(keepaliveInterval(90, 90, 10)).toBe(10);
    expect(keepaliveInterval(9, 90, 20)).toBe(2);
    expect(keepaliveInterval(3, 90, 1)).toBe(1);
    const f = new Fsm({ localAs: 64512, routerId: LOCAL_ID, peerAs: 64512, holdTime: 60, connectRetryTime: 5, keepaliveTime: 5 });
    const actions = run(f, { type: 'ManualStart' }, { type: 'TcpCRAcked' }, { type: 'BGPOpen', open: peerOpen({ holdTime: 30 }) });
    expect(actions).toContainEqual({ type: 'startTimer', timer: 'keepalive', seconds: 2 });
    expect(f.negotiated).toMatchObject({ holdTime: 30, keepaliveTime: 2 });
  });
});

describe('graceful restart negotiation', () => {
  const open = (gr?: { forwarding: boolean } | 'aware'): OpenMessage => ({
    version: 4, myAs: 64512, holdTime: 90, routerId: 0x0a000002, otherParameters: [],
    capabilities: gr === 'aware'
      ? [...localCapabilities({ asn: 64512 }), { code: CapabilityCode.GracefulRestart, restarting: false, notification: false, restartTime: 120, families: [] }]
      : localCapabilities({ asn: 64512, ...(gr ? { gracefulRestart: { restarting: false, restartTime: 120, forwarding: gr.forwarding } } : {}) }),
  });
  const ours = localCapabilities({ asn: 64512, gracefulRestart: { restarting: false, restartTime: 120, forwarding: false } });

  it('applies only when both sides offer it', () => {
    expect(negotiate(ours, 90, open({ forwarding: true })).gracefulRestart).toEqual({ restartTime: 120, restarting: false, forwarding: true, ipv4Unicast: true });
    expect(negotiate(ours, 90, open()).gracefulRestart).toBeUndefined();
    expect(negotiate(localCapabilities({ asn: 64512 }), 90, open({ forwarding: true })).gracefulRestart).toBeUndefined();
  });

  it('a capability listing no IPv4 unicast (BIRD\'s "aware") keeps nothing for IPv4', () => {
    expect(negotiate(ours, 90, open('aware')).gracefulRestart).toMatchObject({ ipv4Unicast: false, forwarding: false });
  });
});
