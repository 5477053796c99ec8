// Export and the Adj-RIB-Out (GoBGP's table/adj): which best path goes to which peer (iBGP rules,
// route reflection per RFC 4456, eBGP only with an explicit policy per RFC 8212), how it is
// rendered for that peer (AS prepend, next hop, ORIGINATOR_ID and CLUSTER_LIST), what each peer
// has been sent, and the UPDATEs that bring a peer from what it has to what it should have.
import { AsPathSegmentType } from './codec/constants.ts';
import { type Nlri, type PathAttributes, encodeAttributes, packUpdates } from './codec/update.ts';
import type { Peer } from './peer.ts';
import type { Rib } from './rib/rib.ts';
import { LOCAL_PEER, type RouteAttributes } from './rib/route-attributes.ts';

/** UPDATEs owed to one peer, gathered over a flush: withdrawals, and announcements by attribute set. */
export interface PendingUpdates {
  withdrawn: Nlri[];
  announce: Map<number, Nlri[]>;
}

/**
 * Bytes of UPDATEs a session may hold in user space beyond what the kernel took. A peer that
 * reads slowly (or not at all: a zero window) makes later changes wait in its Adj-RIB-Out as
 * "not yet sent" prefixes, one entry each however often they change, instead of piling up as
 * encoded messages.
 */
export const SEND_BUFFER_LIMIT = 1 << 20;

const NO_EXPORT = 0xffffff01;
const NO_ADVERTISE = 0xffffff02;
const NO_EXPORT_SUBCONFED = 0xffffff03;

export const noUpdates = (): PendingUpdates => ({ withdrawn: [], announce: new Map() });

export interface ExportContext {
  readonly rib: Rib;
  readonly asn: number;
  readonly routerId: number;
  readonly clusterId: number;
  /** Whether any peer is a route reflector client (then this speaker reflects). */
  hasClients(): boolean;
}

export class RouteExport {
  /**
   * Encoded attributes by attribute set and by what of a peer their rendering depends on (eBGP,
   * next hop mode, our address, 4-octet AS): a reflector sends one set to hundreds of clients
   * alike, and encoded it once for each. Goes with its attribute set (weakly held).
   */
  private encoded = new WeakMap<RouteAttributes, Map<string, Buffer>>();

  constructor(private readonly ctx: ExportContext) {}

  /** Drops every encoding: the cluster ID they carry (CLUSTER_LIST) changed. */
  forgetEncodings(): void {
    this.encoded = new WeakMap();
  }

  /** The attributes `peer` is sent for this attribute set, encoded for its session. */
  private encodedFor(peer: Peer, key: string, attrIndex: number, encodeCtx: Parameters<typeof encodeAttributes>[1]): Buffer {
    const set = this.ctx.rib.attributes[attrIndex]!;
    let byPeerKind = this.encoded.get(set);
    if (!byPeerKind) this.encoded.set(set, (byPeerKind = new Map()));
    let bytes = byPeerKind.get(key);
    if (!bytes) byPeerKind.set(key, (bytes = encodeAttributes(this.render(peer, attrIndex), encodeCtx)));
    return bytes;
  }

  /** Whether the best path with these attributes goes to `peer` (iBGP rules, RFC 4456, RFC 8212). */
  exportable(peer: Peer, attrIndex: number): boolean {
    const a = this.ctx.rib.attributes[attrIndex]!;
    const from = a.source;
    const policy = peer.settings.exportPolicy;
    if (from.index === peer.index || policy === 'none') return false;
    const communities = a.attributes.communities;
    if (communities) {
      // RFC 1997: NO_ADVERTISE to no peer; NO_EXPORT and NO_EXPORT_SUBCONFED to no other AS
      // (with no confederations, the two are the same).
      if (communities.includes(NO_ADVERTISE)) return false;
      if (peer.ebgp && (communities.includes(NO_EXPORT) || communities.includes(NO_EXPORT_SUBCONFED))) return false;
    }
    if (from.index === LOCAL_PEER) return true;
    if (policy === 'announced') return false;
    if (peer.ebgp) return policy === 'all';
    if (from.ebgp) return true;
    // iBGP-learned towards iBGP: only a route reflector passes it on.
    if (!this.ctx.hasClients()) return false;
    if (a.attributes.originatorId !== undefined && a.attributes.originatorId === peer.source.routerId) return false;
    return from.routeReflectorClient || peer.settings.routeReflectorClient;
  }

  /** The attributes `peer` is sent for this attribute set. */
  render(peer: Peer, attrIndex: number): PathAttributes {
    const { rib, asn, routerId, clusterId } = this.ctx;
    const a = rib.attributes[attrIndex]!;
    const from = a.source;
    const src = a.attributes;
    const self = peer.localAddress ?? routerId;
    const mode = peer.settings.nextHop;
    if (from.index === LOCAL_PEER) {
      return peer.ebgp
        ? { origin: src.origin ?? 0, asPath: [{ type: AsPathSegmentType.Sequence, asns: [asn] }], nextHop: self }
        : { origin: src.origin ?? 0, asPath: [], nextHop: self, localPref: 100 };
    }
    const carried: PathAttributes = { origin: a.origin };
    if (src.communities) carried.communities = src.communities;
    if (src.atomicAggregate) carried.atomicAggregate = true;
    if (src.aggregator) carried.aggregator = src.aggregator;
    if (src.other) carried.other = src.other.filter((o) => (o.flags & 0x40) !== 0);
    if (peer.ebgp) {
      const path = a.asPath.map((s) => ({ type: s.type, asns: [...s.asns] }));
      if (path[0]?.type === AsPathSegmentType.Sequence && path[0].asns.length < 255) path[0].asns.unshift(asn);
      else path.unshift({ type: AsPathSegmentType.Sequence, asns: [asn] });
      return { ...carried, asPath: path, nextHop: mode === 'keep' ? a.nextHop : self };
    }
    const out: PathAttributes = { ...carried, asPath: a.asPath, nextHop: mode === 'self' ? self : a.nextHop, localPref: a.localPref };
    if (src.med !== undefined) out.med = src.med;
    if (!from.ebgp) {
      out.originatorId = src.originatorId ?? from.routerId;
      out.clusterList = [clusterId, ...(src.clusterList ?? [])];
    }
    return out;
  }

  /**
   * Brings the peer's Adj-RIB-Out entry for one prefix to `best` (an attribute index, or -1 for
   * none), adding what changed to `pending`.
   */
  decide(peer: Peer, pending: PendingUpdates, address: number, length: number, best: number): void {
    const rib = this.ctx.rib;
    const exportable = best >= 0 && this.exportable(peer, best);
    // Nothing advertised yet and nothing to advertise: no lookup needed (the common case for
    // routes an iBGP mesh peer sent, which go to no other mesh peer).
    if (!exportable && peer.adjRibOut.size === 0) return;
    const prev = peer.adjRibOut.get(address, length);
    if (exportable) {
      if (prev === best) return;
      rib.retain(best);
      if (prev >= 0) rib.release(prev);
      peer.adjRibOut.set(address, length, best);
      let list = pending.announce.get(best);
      if (!list) pending.announce.set(best, (list = []));
      list.push({ address, length, pathId: 0 });
    } else if (prev >= 0) {
      peer.adjRibOut.delete(address, length);
      rib.release(prev);
      pending.withdrawn.push({ address, length, pathId: 0 });
    }
  }

  /** Sends every advertised route again (its rendering changed, e.g. the next hop mode). */
  resendAll(peer: Peer): void {
    const pending = noUpdates();
    peer.adjRibOut.forEach((address, length, attrIndex) => {
      let list = pending.announce.get(attrIndex);
      if (!list) pending.announce.set(attrIndex, (list = []));
      list.push({ address, length, pathId: 0 });
    });
    this.send(peer, pending);
  }

  /** Offers the peer the whole RIB (a new session, a new export policy, a route refresh). */
  exportAll(peer: Peer): void {
    const rib = this.ctx.rib;
    const pending = noUpdates();
    rib.forEachPrefix((address, length) => this.decide(peer, pending, address, length, rib.best(address, length)));
    this.send(peer, pending);
  }

  /** Forgets what the peer was sent (its session ended, or it asked for everything again). */
  release(peer: Peer): void {
    const rib = this.ctx.rib;
    peer.adjRibOut.forEach((_a, _l, attrIndex) => rib.release(attrIndex));
    peer.adjRibOut.clear();
    peer.unsent.clear();
  }

  /**
   * Encodes `pending` into UPDATEs of at most the session's message size and sends them, as long
   * as the session's send buffer is under SEND_BUFFER_LIMIT; what does not fit waits in
   * peer.unsent for pump().
   */
  send(peer: Peer, pending: PendingUpdates): void {
    const conn = peer.established;
    if (!conn) return;
    // UPDATEs are gathered and written 64 KB at a time, not one write each: a reflector sends
    // hundreds of thousands of small ones, and each write costs the socket a request object.
    let out: Buffer[] = [];
    let outBytes = 0;
    const emit = () => {
      if (out.length === 0) return;
      conn.send(out.length === 1 ? out[0]! : Buffer.concat(out, outBytes));
      out = [];
      outBytes = 0;
    };
    const write = (messages: Buffer[]) => {
      for (const m of messages) {
        out.push(m);
        outBytes += m.length;
      }
      peer.stats.updatesSent += messages.length;
      if (outBytes >= WRITE_SIZE) emit();
    };
    // Something already waits: this goes behind it (a drain is due, which pumps).
    const full = () => peer.unsent.size > 0 || conn.writableLength + outBytes >= SEND_BUFFER_LIMIT;
    const rendered = this.fit(peer, pending, conn.maxLength, conn.encodeCtx);
    const w = pending.withdrawn;
    for (let i = 0; i < w.length; i += CHUNK) {
      if (full()) {
        emit();
        return this.defer(peer, w, i, pending, 0);
      }
      write(packUpdates(w.slice(i, i + CHUNK), undefined, [], conn.encodeCtx, conn.maxLength));
    }
    let group = 0;
    for (const [attrIndex, nlri] of pending.announce) {
      const attributes = rendered.get(attrIndex)!;
      for (let i = 0; i < nlri.length; i += CHUNK) {
        if (full()) {
          emit();
          return this.defer(peer, nlri, i, pending, group + 1);
        }
        write(packUpdates([], attributes, nlri.slice(i, i + CHUNK), conn.encodeCtx, conn.maxLength));
      }
      group++;
    }
    emit();
  }

  /**
   * Renders each announced attribute set for the peer. A set too big for one UPDATE of the
   * session's size (it came over a session with extended messages, RFC 8654) cannot be sent:
   * its prefixes leave the Adj-RIB-Out and are withdrawn instead, so that the peer does not keep
   * an older path of ours for them.
   */
  private fit(peer: Peer, pending: PendingUpdates, maxLength: number, ctx: Parameters<typeof encodeAttributes>[1]): Map<number, Buffer> {
    const rendered = new Map<number, Buffer>();
    // What of the peer its rendering depends on (see `encoded`).
    const key = `${peer.ebgp ? 'e' : 'i'}${peer.settings.nextHop}${peer.localAddress ?? this.ctx.routerId}${ctx.as4 ? '4' : '2'}${ctx.addPath ? 'p' : ''}`;
    for (const [attrIndex, nlri] of pending.announce) {
      const attributes = this.encodedFor(peer, key, attrIndex, ctx);
      // Header, the two length fields, the attributes and one /32 (with a path id).
      if (19 + 4 + attributes.length + 9 <= maxLength) {
        rendered.set(attrIndex, attributes);
        continue;
      }
      pending.announce.delete(attrIndex);
      for (const n of nlri) {
        if (peer.adjRibOut.get(n.address, n.length) !== attrIndex) continue;
        peer.adjRibOut.delete(n.address, n.length);
        this.ctx.rib.release(attrIndex);
        pending.withdrawn.push(n);
      }
      peer.stats.tooLargeToSend += nlri.length;
    }
    return rendered;
  }

  /** Marks as unsent the rest of `current` from `from`, and the announcement groups from `nextGroup` on. */
  private defer(peer: Peer, current: readonly Nlri[], from: number, pending: PendingUpdates, nextGroup: number): void {
    for (let i = from; i < current.length; i++) peer.unsent.set(current[i]!.address, current[i]!.length, 0);
    let group = 0;
    for (const nlri of pending.announce.values()) {
      if (group++ < nextGroup) continue;
      for (const n of nlri) peer.unsent.set(n.address, n.length, 0);
    }
  }

  /**
   * The session's buffer drained: sends the prefixes waiting in peer.unsent as the Adj-RIB-Out
   * has them now (a prefix that changed ten times while waiting is sent once).
   */
  pump(peer: Peer): void {
    if (peer.unsent.size === 0 || !peer.established) return;
    const pending = noUpdates();
    peer.unsent.forEach((address, length) => {
      const attrIndex = peer.adjRibOut.get(address, length);
      if (attrIndex < 0) {
        pending.withdrawn.push({ address, length, pathId: 0 });
        return;
      }
      let list = pending.announce.get(attrIndex);
      if (!list) pending.announce.set(attrIndex, (list = []));
      list.push({ address, length, pathId: 0 });
    });
    peer.unsent.clear();
    this.send(peer, pending);
  }
}

/** Prefixes encoded at a time before the send buffer is looked at again (a few UPDATEs' worth). */
const CHUNK = 1024;
/** Bytes of UPDATEs gathered before one write. */
const WRITE_SIZE = 65536;
