// Building blocks for the unit tests of the speaker's parts (route-export, graceful-restart,
// speaker-status): peers with the speaker's default settings, routes in a real RIB, and a session
// that keeps what would go on the wire so that a test decodes it with the real codec.
import { pino } from 'pino';
import { parseCidr, parseIPv4 } from '../../../shared/net/index.ts';
import { MAX_MESSAGE_LENGTH, MessageType } from '../codec/constants.ts';
import { decodeMessage } from '../codec/message.ts';
import type { DecodedUpdate, PathAttributes } from '../codec/update.ts';
import type { Connection } from '../connection.ts';
import type { Negotiated } from '../fsm.ts';
import { Peer, type PeerSettings } from '../peer.ts';
import type { Rib } from '../rib/rib.ts';
import { RouteAttributes } from '../rib/route-attributes.ts';

export const silent = pino({ level: 'silent' });
export const LOCAL_AS = 64512;
export const ROUTER_ID = parseIPv4('10.0.0.1');

/** A peer as the speaker makes it (iBGP mesh defaults unless `settings` says otherwise); never connected. */
export function testPeer(index: number, address: string, settings: Partial<PeerSettings> = {}): Peer {
  const asn = settings.asn ?? LOCAL_AS;
  const ebgp = asn !== LOCAL_AS;
  const full: PeerSettings = {
    address, port: 179, asn, passive: true, routeReflectorClient: false, holdTime: 90, connectRetryTime: 5, connectRetryMax: 5,
    restartTime: 120, nextHop: 'auto', importPolicy: ebgp ? 'none' : 'all', exportPolicy: ebgp ? 'none' : 'ibgp-rules', peerType: 'test', ...settings,
  };
  const peer = new Peer(index, full, LOCAL_AS, ROUTER_ID, {
    onEstablished: () => {}, onDown: () => {}, onUpdate: () => {}, onRouteRefresh: () => {}, onWritable: () => {}, capabilities: () => [],
    dial: () => { throw new Error('a test peer does not dial'); },
  }, silent);
  peer.source.routerId = parseIPv4(address);
  return peer;
}

/** What both OPENs agreed (graceful restart as given). */
export function negotiated(gracefulRestart?: Negotiated['gracefulRestart'], peerRouterId = 0): Negotiated {
  return {
    holdTime: 90, keepaliveTime: 30, peerRouterId, peerAs: LOCAL_AS, as4: true, addPathReceive: false, extendedMessage: false,
    routeRefresh: true, enhancedRouteRefresh: false, ...(gracefulRestart ? { gracefulRestart } : {}), peerCapabilities: [], localCapabilities: [],
  };
}

/** A session that records the messages sent on it. */
export interface RecordingSession {
  sent: Buffer[];
  /** The UPDATEs sent so far, decoded (each message checked against the session's size limit). */
  updates(): DecodedUpdate[];
}

export function establish(peer: Peer, maxLength = MAX_MESSAGE_LENGTH): RecordingSession {
  const sent: Buffer[] = [];
  const encodeCtx = { as4: true, addPath: false, ebgp: peer.ebgp };
  const session = { send: (m: Buffer) => sent.push(m), encodeCtx, maxLength, state: 'Established', writableLength: 0 };
  peer.established = session as unknown as Connection;
  return {
    sent,
    // A write may carry several messages: cut them apart by their headers' lengths.
    updates: () => sent.flatMap((w) => {
      const messages: Buffer[] = [];
      for (let at = 0; at < w.length; at += w.readUInt16BE(at + 16)) messages.push(w.subarray(at, at + w.readUInt16BE(at + 16)));
      return messages;
    }).map((m) => {
      if (m.length > maxLength) throw new Error(`a message of ${m.length} bytes, over the session's ${maxLength}`);
      const d = decodeMessage(m, { ...encodeCtx, ebgp: false, maxLength });
      if (!d.ok || d.value.type !== MessageType.Update) throw new Error('not an UPDATE');
      return d.value.update;
    }),
  };
}

/** Puts a route from `peer` (index 0: our own) for `prefix` into the RIB; returns its attribute index. */
export function addRoute(rib: Rib, peer: Peer | undefined, prefix: string, attrs: Partial<PathAttributes> = {}, nextHop = '192.0.2.1'): number {
  const { address, prefixLength } = parseCidr(prefix);
  const source = peer?.source ?? { index: 0, address: ROUTER_ID, routerId: ROUTER_ID, asn: LOCAL_AS, ebgp: false, routeReflectorClient: false };
  const full: PathAttributes = { origin: 0, asPath: [], ...attrs };
  const key = `${source.index}:${JSON.stringify(full)}:${nextHop}`;
  const attrIndex = rib.intern(key, () => new RouteAttributes(source, full, full.asPath ?? [], parseIPv4(nextHop), key));
  rib.update(source.index, address, prefixLength, 0, attrIndex);
  return attrIndex;
}
