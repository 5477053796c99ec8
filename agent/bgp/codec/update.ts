// UPDATE messages (RFC 4271 4.3) with multiprotocol reach/unreach (RFC 4760), 4-octet AS paths
// (RFC 6793), ADD-PATH path identifiers (RFC 7911) and route reflection attributes (RFC 4456).
//
// Errors follow RFC 7606: what can be handled without tearing the session down is reported in the
// result (`treatAsWithdraw`, `discarded`); only what makes the message unparseable returns an error
// value (the NOTIFICATION to send). This is the hot path of route ingestion: no exceptions, no
// intermediate copies, one small object per prefix.
import {
  AS_TRANS, Afi, AsPathSegmentType, AttrFlag, AttrType, ErrorCode, MessageType, Safi, UpdateSubcode,
} from './constants.ts';
import { type Decoded, bgpError, fail, ok } from './errors.ts';
import { frame } from './header.ts';

export interface Nlri {
  address: number;
  length: number;
  /** ADD-PATH path identifier; 0 when ADD-PATH is not in use. */
  pathId: number;
}

export interface AsPathSegment {
  type: number;
  asns: number[];
}

export interface Aggregator {
  asn: number;
  address: number;
}

export interface RawAttribute {
  flags: number;
  type: number;
  value: Buffer;
}

export interface MpReach {
  afi: number;
  safi: number;
  nextHop: Buffer;
  /** Decoded for IPv4 unicast only; other families are not negotiated and are ignored. */
  nlri: Nlri[];
}

export interface MpUnreach {
  afi: number;
  safi: number;
  withdrawn: Nlri[];
}

export interface PathAttributes {
  origin?: number;
  asPath?: AsPathSegment[];
  nextHop?: number;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  communities?: number[];
  originatorId?: number;
  clusterList?: number[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: Aggregator;
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /** Attributes this codec does not interpret, kept to pass on (optional transitive ones). */
  other?: RawAttribute[];
}

export interface UpdateMessage {
  withdrawn: Nlri[];
  attributes: PathAttributes;
  nlri: Nlri[];
}

/** What the session negotiated, which changes how UPDATEs are read and written. */
export interface UpdateContext {
  /** Both sides have the 4-octet AS capability: AS numbers in AS_PATH are 4 octets. */
  as4: boolean;
  /** ADD-PATH: NLRI carry a path identifier (in the direction being decoded or encoded). */
  addPath: boolean;
  /** The peer is external: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from it are discarded. */
  ebgp: boolean;
}

export interface DecodedUpdate extends UpdateMessage {
  /** RFC 7606 treat-as-withdraw: the announced NLRI must be handled as withdrawn. Says why. */
  treatAsWithdraw?: string;
  /** RFC 7606 attribute discard: attributes that were dropped, and why. */
  discarded: string[];
  /** The path attribute bytes as received (a view into the message), to intern identical sets. */
  rawAttributes: Buffer;
}

const WELL_KNOWN = AttrFlag.Transitive;
const OPTIONAL = AttrFlag.Optional;
const OPTIONAL_TRANSITIVE = AttrFlag.Optional | AttrFlag.Transitive;

/** The Optional and Transitive bits each known attribute must carry (RFC 7606 3.c). */
const expectedFlags: Record<number, number> = {
  [AttrType.Origin]: WELL_KNOWN,
  [AttrType.AsPath]: WELL_KNOWN,
  [AttrType.NextHop]: WELL_KNOWN,
  [AttrType.MultiExitDisc]: OPTIONAL,
  [AttrType.LocalPref]: WELL_KNOWN,
  [AttrType.AtomicAggregate]: WELL_KNOWN,
  [AttrType.Aggregator]: OPTIONAL_TRANSITIVE,
  [AttrType.Communities]: OPTIONAL_TRANSITIVE,
  [AttrType.OriginatorId]: OPTIONAL,
  [AttrType.ClusterList]: OPTIONAL,
  [AttrType.MpReachNlri]: OPTIONAL,
  [AttrType.MpUnreachNlri]: OPTIONAL,
  [AttrType.ExtendedCommunities]: OPTIONAL_TRANSITIVE,
  [AttrType.As4Path]: OPTIONAL_TRANSITIVE,
  [AttrType.As4Aggregator]: OPTIONAL_TRANSITIVE,
  [AttrType.LargeCommunities]: OPTIONAL_TRANSITIVE,
};

/** Attributes whose errors are handled by discarding the attribute rather than the route. */
const discardOnError = new Set<number>([AttrType.AtomicAggregate, AttrType.Aggregator, AttrType.As4Path, AttrType.As4Aggregator]);

function updateError(subcode: number, reason: string, data?: Buffer) {
  return bgpError(ErrorCode.UpdateMessage, subcode, reason, data);
}

/**
 * Reads prefixes between `start` and `end` into `out`. Returns false when they are malformed
 * (a length above 32 or a prefix running past the end). Host bits are cleared.
 */
function readPrefixes(buf: Buffer, start: number, end: number, addPath: boolean, out: Nlri[]): boolean {
  let i = start;
  while (i < end) {
    let pathId = 0;
    if (addPath) {
      if (i + 4 > end) return false;
      pathId = buf.readUInt32BE(i);
      i += 4;
      if (i >= end) return false;
    }
    const length = buf[i++]!;
    if (length > 32) return false;
    const octets = (length + 7) >> 3;
    if (i + octets > end) return false;
    let address = 0;
    if (octets > 0) address = buf[i]! << 24;
    if (octets > 1) address |= buf[i + 1]! << 16;
    if (octets > 2) address |= buf[i + 2]! << 8;
    if (octets > 3) address |= buf[i + 3]!;
    address = length === 0 ? 0 : (address & (-1 << (32 - length))) >>> 0;
    out.push({ address, length, pathId });
    i += octets;
  }
  return true;
}

/** Decodes AS_PATH / AS4_PATH segments; undefined when malformed. */
function readAsPath(value: Buffer, asSize: 2 | 4): AsPathSegment[] | undefined {
  const segments: AsPathSegment[] = [];
  let i = 0;
  while (i < value.length) {
    if (i + 2 > value.length) return undefined;
    const type = value[i]!;
    const count = value[i + 1]!;
    if (type < AsPathSegmentType.Set || type > AsPathSegmentType.ConfedSet || count === 0) return undefined;
    i += 2;
    if (i + count * asSize > value.length) return undefined;
    const asns = new Array<number>(count);
    for (let j = 0; j < count; j++) {
      asns[j] = asSize === 4 ? value.readUInt32BE(i) : value.readUInt16BE(i);
      i += asSize;
    }
    segments.push({ type, asns });
  }
  return segments;
}

/** 0.0.0.0, multicast and class E can never be a next hop (RFC 4271 6.3). */
function isMartianNextHop(address: number): boolean {
  return address === 0 || address >>> 24 >= 224;
}

/** Decodes an UPDATE body (the bytes after the header). */
export function decodeUpdateBody(body: Buffer, ctx: UpdateContext): Decoded<DecodedUpdate> {
  const withdrawnLength = body.readUInt16BE(0);
  if (4 + withdrawnLength > body.length) {
    return fail(updateError(UpdateSubcode.MalformedAttributeList, `withdrawn routes length ${withdrawnLength} runs past the message`));
  }
  const attrStart = 4 + withdrawnLength;
  const attrLength = body.readUInt16BE(2 + withdrawnLength);
  const attrEnd = attrStart + attrLength;
  if (attrEnd > body.length) {
    return fail(updateError(UpdateSubcode.MalformedAttributeList, `total path attribute length ${attrLength} runs past the message`));
  }
  const withdrawn: Nlri[] = [];
  if (!readPrefixes(body, 2, 2 + withdrawnLength, ctx.addPath, withdrawn)) {
    return fail(updateError(UpdateSubcode.InvalidNetworkField, 'the withdrawn routes field is malformed'));
  }

  const attributes: PathAttributes = {};
  const discarded: string[] = [];
  let treatAsWithdraw: string | undefined;
  const seen = new Set<number>();
  const asSize = ctx.as4 ? 4 : 2;

  let i = attrStart;
  while (i < attrEnd) {
    if (i + 3 > attrEnd) {
      treatAsWithdraw ??= 'a path attribute header is truncated';
      break;
    }
    const flags = body[i]!;
    const type = body[i + 1]!;
    const extended = (flags & AttrFlag.ExtendedLength) !== 0;
    if (extended && i + 4 > attrEnd) {
      treatAsWithdraw ??= 'a path attribute header is truncated';
      break;
    }
    const length = extended ? body.readUInt16BE(i + 2) : body[i + 2]!;
    const valueStart = i + (extended ? 4 : 3);
    const valueEnd = valueStart + length;
    if (valueEnd > attrEnd) {
      // RFC 7606 4: an attribute overrunning the attribute field.
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) {
        return fail(updateError(UpdateSubcode.AttributeLengthError, `attribute ${type} runs past the path attributes`));
      }
      treatAsWithdraw ??= `attribute ${type} claims ${length} octets, more than the path attributes hold`;
      break;
    }
    const whole = body.subarray(i, valueEnd);
    const value = body.subarray(valueStart, valueEnd);
    i = valueEnd;

    if (seen.has(type)) {
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) {
        return fail(updateError(UpdateSubcode.MalformedAttributeList, `attribute ${type} appears twice`));
      }
      discarded.push(`attribute ${type} repeated: the later copy is ignored`);
      continue;
    }
    seen.add(type);

    const expected = expectedFlags[type];
    if (expected === undefined) {
      if ((flags & AttrFlag.Optional) === 0) {
        return fail(updateError(UpdateSubcode.UnrecognizedWellKnownAttribute, `unrecognized well-known attribute ${type}`, Buffer.from(whole)));
      }
      if ((flags & AttrFlag.Transitive) !== 0) {
        (attributes.other ??= []).push({ flags: flags | AttrFlag.Partial, type, value: Buffer.from(value) });
      }
      continue;
    }
    if ((flags & OPTIONAL_TRANSITIVE) !== expected) {
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) {
        return fail(updateError(UpdateSubcode.AttributeFlagsError, `attribute ${type} has flags 0x${flags.toString(16)}`, Buffer.from(whole)));
      }
      if (discardOnError.has(type)) discarded.push(`attribute ${type} has wrong flags 0x${flags.toString(16)}`);
      else treatAsWithdraw ??= `attribute ${type} has wrong flags 0x${flags.toString(16)}`;
      continue;
    }

    switch (type) {
      case AttrType.Origin:
        if (length !== 1 || value[0]! > 2) treatAsWithdraw ??= `ORIGIN is malformed (length ${length})`;
        else attributes.origin = value[0]!;
        break;
      case AttrType.AsPath: {
        const path = readAsPath(value, asSize);
        if (!path) treatAsWithdraw ??= 'AS_PATH is malformed';
        else attributes.asPath = path;
        break;
      }
      case AttrType.NextHop:
        if (length !== 4) treatAsWithdraw ??= `NEXT_HOP has length ${length}, not 4`;
        else if (isMartianNextHop(value.readUInt32BE(0))) treatAsWithdraw ??= 'NEXT_HOP is not a usable unicast address';
        else attributes.nextHop = value.readUInt32BE(0);
        break;
      case AttrType.MultiExitDisc:
        if (length !== 4) treatAsWithdraw ??= `MULTI_EXIT_DISC has length ${length}, not 4`;
        else attributes.med = value.readUInt32BE(0);
        break;
      case AttrType.LocalPref:
        if (ctx.ebgp) discarded.push('LOCAL_PREF from an external peer');
        else if (length !== 4) treatAsWithdraw ??= `LOCAL_PREF has length ${length}, not 4`;
        else attributes.localPref = value.readUInt32BE(0);
        break;
      case AttrType.AtomicAggregate:
        if (length !== 0) discarded.push(`ATOMIC_AGGREGATE has length ${length}, not 0`);
        else attributes.atomicAggregate = true;
        break;
      case AttrType.Aggregator:
        if (length !== asSize + 4) discarded.push(`AGGREGATOR has length ${length}, not ${asSize + 4}`);
        else attributes.aggregator = { asn: asSize === 4 ? value.readUInt32BE(0) : value.readUInt16BE(0), address: value.readUInt32BE(asSize) };
        break;
      case AttrType.Communities:
        if (length === 0 || length % 4 !== 0) treatAsWithdraw ??= `COMMUNITIES has length ${length}, not a multiple of 4`;
        else {
          const communities = new Array<number>(length / 4);
          for (let j = 0; j < communities.length; j++) communities[j] = value.readUInt32BE(4 * j);
          attributes.communities = communities;
        }
        break;
      case AttrType.OriginatorId:
        if (ctx.ebgp) discarded.push('ORIGINATOR_ID from an external peer');
        else if (length !== 4) treatAsWithdraw ??= `ORIGINATOR_ID has length ${length}, not 4`;
        else attributes.originatorId = value.readUInt32BE(0);
        break;
      case AttrType.ClusterList:
        if (ctx.ebgp) discarded.push('CLUSTER_LIST from an external peer');
        else if (length === 0 || length % 4 !== 0) treatAsWithdraw ??= `CLUSTER_LIST has length ${length}, not a multiple of 4`;
        else {
          const list = new Array<number>(length / 4);
          for (let j = 0; j < list.length; j++) list[j] = value.readUInt32BE(4 * j);
          attributes.clusterList = list;
        }
        break;
      case AttrType.As4Path: {
        if (ctx.as4) { discarded.push('AS4_PATH from a 4-octet AS speaker'); break; }
        const path = readAsPath(value, 4);
        if (!path) discarded.push('AS4_PATH is malformed');
        else attributes.as4Path = path;
        break;
      }
      case AttrType.As4Aggregator:
        if (ctx.as4) discarded.push('AS4_AGGREGATOR from a 4-octet AS speaker');
        else if (length !== 8) discarded.push(`AS4_AGGREGATOR has length ${length}, not 8`);
        else attributes.as4Aggregator = { asn: value.readUInt32BE(0), address: value.readUInt32BE(4) };
        break;
      case AttrType.ExtendedCommunities:
      case AttrType.LargeCommunities: {
        const unit = type === AttrType.ExtendedCommunities ? 8 : 12;
        if (length === 0 || length % unit !== 0) treatAsWithdraw ??= `attribute ${type} has length ${length}, not a multiple of ${unit}`;
        else (attributes.other ??= []).push({ flags: flags & ~AttrFlag.ExtendedLength, type, value: Buffer.from(value) });
        break;
      }
      case AttrType.MpReachNlri: {
        if (length < 5) return fail(updateError(UpdateSubcode.OptionalAttributeError, `MP_REACH_NLRI is too short (${length} octets)`, Buffer.from(whole)));
        const afi = value.readUInt16BE(0);
        const safi = value[2]!;
        const nextHopLength = value[3]!;
        if (5 + nextHopLength > length) return fail(updateError(UpdateSubcode.OptionalAttributeError, 'MP_REACH_NLRI next hop runs past the attribute', Buffer.from(whole)));
        const nextHop = Buffer.from(value.subarray(4, 4 + nextHopLength));
        const nlri: Nlri[] = [];
        if (afi === Afi.Ipv4 && safi === Safi.Unicast) {
          if (nextHopLength !== 4) return fail(updateError(UpdateSubcode.OptionalAttributeError, `MP_REACH_NLRI IPv4 next hop has length ${nextHopLength}`, Buffer.from(whole)));
          const nlriStart = valueStart + 5 + nextHopLength;
          if (!readPrefixes(body, nlriStart, valueEnd, ctx.addPath, nlri)) {
            return fail(updateError(UpdateSubcode.OptionalAttributeError, 'MP_REACH_NLRI prefixes are malformed', Buffer.from(whole)));
          }
        }
        attributes.mpReach = { afi, safi, nextHop, nlri };
        break;
      }
      case AttrType.MpUnreachNlri: {
        if (length < 3) return fail(updateError(UpdateSubcode.OptionalAttributeError, `MP_UNREACH_NLRI is too short (${length} octets)`, Buffer.from(whole)));
        const afi = value.readUInt16BE(0);
        const safi = value[2]!;
        const gone: Nlri[] = [];
        if (afi === Afi.Ipv4 && safi === Safi.Unicast && !readPrefixes(body, valueStart + 3, valueEnd, ctx.addPath, gone)) {
          return fail(updateError(UpdateSubcode.OptionalAttributeError, 'MP_UNREACH_NLRI prefixes are malformed', Buffer.from(whole)));
        }
        attributes.mpUnreach = { afi, safi, withdrawn: gone };
        break;
      }
    }
  }

  const nlri: Nlri[] = [];
  if (!readPrefixes(body, attrEnd, body.length, ctx.addPath, nlri)) {
    return fail(updateError(UpdateSubcode.InvalidNetworkField, 'the NLRI field is malformed'));
  }
  const announces = nlri.length > 0 || (attributes.mpReach?.nlri.length ?? 0) > 0;
  if (announces && treatAsWithdraw === undefined) {
    const missing: string[] = [];
    if (attributes.origin === undefined) missing.push('ORIGIN');
    if (attributes.asPath === undefined) missing.push('AS_PATH');
    if (nlri.length > 0 && attributes.nextHop === undefined) missing.push('NEXT_HOP');
    if (missing.length > 0) treatAsWithdraw = `missing well-known attribute ${missing.join(', ')}`;
  }
  const result: DecodedUpdate = { withdrawn, attributes, nlri, discarded, rawAttributes: body.subarray(attrStart, attrEnd) };
  if (treatAsWithdraw !== undefined) result.treatAsWithdraw = treatAsWithdraw;
  return ok(result);
}

/** An UPDATE with nothing in it is IPv4 unicast End-of-RIB (RFC 4724 2). */
export function isEndOfRib(update: UpdateMessage): boolean {
  const a = update.attributes;
  if (update.withdrawn.length > 0 || update.nlri.length > 0) return false;
  const keys = Object.keys(a).filter((k) => a[k as keyof PathAttributes] !== undefined);
  if (keys.length === 0) return true;
  return keys.length === 1 && a.mpUnreach !== undefined && a.mpUnreach.withdrawn.length === 0;
}

// ---- encoding ----

function attributeHeader(flags: number, type: number, length: number): Buffer {
  if (length > 255) {
    return Buffer.from([flags | AttrFlag.ExtendedLength, type, length >> 8, length & 255]);
  }
  return Buffer.from([flags & ~AttrFlag.ExtendedLength, type, length]);
}

function attribute(flags: number, type: number, value: Buffer): Buffer {
  return Buffer.concat([attributeHeader(flags, type, value.length), value]);
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function asPathBytes(segments: readonly AsPathSegment[], asSize: 2 | 4): Buffer {
  const parts: Buffer[] = [];
  for (const segment of segments) {
    for (let start = 0; start < segment.asns.length; start += 255) {
      const chunk = segment.asns.slice(start, start + 255);
      const b = Buffer.allocUnsafe(2 + chunk.length * asSize);
      b[0] = segment.type;
      b[1] = chunk.length;
      chunk.forEach((asn, j) => {
        if (asSize === 4) b.writeUInt32BE(asn >>> 0, 2 + 4 * j);
        else b.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 2 + 2 * j);
      });
      parts.push(b);
    }
  }
  return Buffer.concat(parts);
}

function prefixBytes(list: readonly Nlri[], addPath: boolean): Buffer {
  let size = 0;
  for (const p of list) size += 1 + ((p.length + 7) >> 3) + (addPath ? 4 : 0);
  const out = Buffer.allocUnsafe(size);
  let i = 0;
  for (const p of list) {
    if (addPath) { out.writeUInt32BE(p.pathId >>> 0, i); i += 4; }
    out[i++] = p.length;
    const octets = (p.length + 7) >> 3;
    for (let j = 0; j < octets; j++) out[i++] = (p.address >>> (24 - 8 * j)) & 255;
  }
  return out;
}

/** The encoded size of one prefix, to pack UPDATEs up to the message limit. */
export function prefixSize(p: Nlri, addPath: boolean): number {
  return 1 + ((p.length + 7) >> 3) + (addPath ? 4 : 0);
}

/** Encodes path attributes in type order. Towards a 2-octet peer, adds AS4_PATH when needed. */
export function encodeAttributes(a: PathAttributes, ctx: UpdateContext): Buffer {
  const parts: Buffer[] = [];
  if (a.origin !== undefined) parts.push(attribute(WELL_KNOWN, AttrType.Origin, Buffer.from([a.origin])));
  if (a.asPath !== undefined) parts.push(attribute(WELL_KNOWN, AttrType.AsPath, asPathBytes(a.asPath, ctx.as4 ? 4 : 2)));
  if (a.nextHop !== undefined) parts.push(attribute(WELL_KNOWN, AttrType.NextHop, u32(a.nextHop)));
  if (a.med !== undefined) parts.push(attribute(OPTIONAL, AttrType.MultiExitDisc, u32(a.med)));
  if (a.localPref !== undefined) parts.push(attribute(WELL_KNOWN, AttrType.LocalPref, u32(a.localPref)));
  if (a.atomicAggregate) parts.push(attribute(WELL_KNOWN, AttrType.AtomicAggregate, Buffer.alloc(0)));
  if (a.aggregator !== undefined) {
    const v = Buffer.allocUnsafe(ctx.as4 ? 8 : 6);
    if (ctx.as4) v.writeUInt32BE(a.aggregator.asn >>> 0, 0);
    else v.writeUInt16BE(a.aggregator.asn > 0xffff ? AS_TRANS : a.aggregator.asn, 0);
    v.writeUInt32BE(a.aggregator.address >>> 0, ctx.as4 ? 4 : 2);
    parts.push(attribute(OPTIONAL_TRANSITIVE, AttrType.Aggregator, v));
  }
  if (a.communities !== undefined) parts.push(attribute(OPTIONAL_TRANSITIVE, AttrType.Communities, Buffer.concat(a.communities.map(u32))));
  if (a.originatorId !== undefined) parts.push(attribute(OPTIONAL, AttrType.OriginatorId, u32(a.originatorId)));
  if (a.clusterList !== undefined) parts.push(attribute(OPTIONAL, AttrType.ClusterList, Buffer.concat(a.clusterList.map(u32))));
  if (a.mpReach !== undefined) {
    const m = a.mpReach;
    const head = Buffer.from([m.afi >> 8, m.afi & 255, m.safi, m.nextHop.length]);
    parts.push(attribute(OPTIONAL, AttrType.MpReachNlri, Buffer.concat([head, m.nextHop, Buffer.from([0]), prefixBytes(m.nlri, ctx.addPath)])));
  }
  if (a.mpUnreach !== undefined) {
    const m = a.mpUnreach;
    parts.push(attribute(OPTIONAL, AttrType.MpUnreachNlri, Buffer.concat([Buffer.from([m.afi >> 8, m.afi & 255, m.safi]), prefixBytes(m.withdrawn, ctx.addPath)])));
  }
  if (!ctx.as4) {
    const as4Path = a.as4Path ?? (a.asPath?.some((s) => s.asns.some((n) => n > 0xffff)) ? a.asPath : undefined);
    if (as4Path !== undefined) parts.push(attribute(OPTIONAL_TRANSITIVE, AttrType.As4Path, asPathBytes(as4Path, 4)));
    const as4Aggregator = a.as4Aggregator ?? (a.aggregator && a.aggregator.asn > 0xffff ? a.aggregator : undefined);
    if (as4Aggregator !== undefined) parts.push(attribute(OPTIONAL_TRANSITIVE, AttrType.As4Aggregator, Buffer.concat([u32(as4Aggregator.asn), u32(as4Aggregator.address)])));
  }
  for (const raw of a.other ?? []) parts.push(attribute(raw.flags, raw.type, raw.value));
  return Buffer.concat(parts);
}

/** Encodes one UPDATE; the caller keeps it within the negotiated message size (see packUpdates). */
export function encodeUpdate(update: UpdateMessage, ctx: UpdateContext): Buffer {
  return encodeUpdateWith(update.withdrawn, encodeAttributes(update.attributes, ctx), update.nlri, ctx);
}

/** encodeUpdate with the path attributes already encoded (shared by every UPDATE that carries them). */
function encodeUpdateWith(withdrawnNlri: readonly Nlri[], attrs: Buffer, nlriList: readonly Nlri[], ctx: UpdateContext): Buffer {
  const withdrawn = prefixBytes(withdrawnNlri, ctx.addPath);
  const nlri = prefixBytes(nlriList, ctx.addPath);
  const body = Buffer.allocUnsafe(4 + withdrawn.length + attrs.length + nlri.length);
  body.writeUInt16BE(withdrawn.length, 0);
  withdrawn.copy(body, 2);
  body.writeUInt16BE(attrs.length, 2 + withdrawn.length);
  attrs.copy(body, 4 + withdrawn.length);
  nlri.copy(body, 4 + withdrawn.length + attrs.length);
  return frame(MessageType.Update, body);
}

/** End-of-RIB for IPv4 unicast. */
export function encodeEndOfRib(): Buffer {
  return frame(MessageType.Update, Buffer.from([0, 0, 0, 0]));
}

/**
 * Splits withdrawals and announcements sharing one attribute set into as few UPDATEs as the
 * message size allows. `attributes` may come encoded already (encodeAttributes), as when one
 * set goes to many peers alike.
 */
export function packUpdates(withdrawn: readonly Nlri[], attributes: PathAttributes | Buffer | undefined, nlri: readonly Nlri[], ctx: UpdateContext, maxLength: number): Buffer[] {
  const out: Buffer[] = [];
  const room = maxLength - 19 - 4;
  let batch: Nlri[] = [];
  let used = 0;
  for (const p of withdrawn) {
    const size = prefixSize(p, ctx.addPath);
    if (used + size > room) { out.push(encodeUpdate({ withdrawn: batch, attributes: {}, nlri: [] }, ctx)); batch = []; used = 0; }
    batch.push(p);
    used += size;
  }
  if (batch.length > 0) out.push(encodeUpdate({ withdrawn: batch, attributes: {}, nlri: [] }, ctx));
  if (attributes && nlri.length > 0) {
    const attrs = Buffer.isBuffer(attributes) ? attributes : encodeAttributes(attributes, ctx);
    const nlriRoom = room - attrs.length;
    batch = [];
    used = 0;
    for (const p of nlri) {
      const size = prefixSize(p, ctx.addPath);
      if (used + size > nlriRoom) { out.push(encodeUpdateWith([], attrs, batch, ctx)); batch = []; used = 0; }
      batch.push(p);
      used += size;
    }
    if (batch.length > 0) out.push(encodeUpdateWith([], attrs, batch, ctx));
  }
  return out;
}

// ---- AS path arithmetic ----

/** Path length for route selection: a sequence counts its ASes, a set counts 1, confederation segments 0. */
export function asPathLength(segments: readonly AsPathSegment[] | undefined): number {
  let n = 0;
  for (const s of segments ?? []) {
    if (s.type === AsPathSegmentType.Sequence) n += s.asns.length;
    else if (s.type === AsPathSegmentType.Set) n += 1;
  }
  return n;
}

/** The real path from a 2-octet speaker's AS_PATH and AS4_PATH (RFC 6793 4.2.3). */
export function reconstructAsPath(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[] | undefined): AsPathSegment[] {
  if (!as4Path) return asPath.map((s) => ({ type: s.type, asns: [...s.asns] }));
  const oldLength = asPathLength(asPath);
  const newLength = asPathLength(as4Path);
  if (oldLength < newLength) return asPath.map((s) => ({ type: s.type, asns: [...s.asns] }));
  // Keep the leading (oldLength - newLength) ASes of AS_PATH, then AS4_PATH.
  let keep = oldLength - newLength;
  const result: AsPathSegment[] = [];
  for (const s of asPath) {
    if (keep <= 0) break;
    if (s.type === AsPathSegmentType.Sequence) {
      const take = s.asns.slice(0, keep);
      result.push({ type: s.type, asns: take });
      keep -= take.length;
    } else if (s.type === AsPathSegmentType.Set) {
      result.push({ type: s.type, asns: [...s.asns] });
      keep -= 1;
    } else {
      result.push({ type: s.type, asns: [...s.asns] });
    }
  }
  return [...result, ...as4Path.map((s) => ({ type: s.type, asns: [...s.asns] }))];
}

export function asPathContains(segments: readonly AsPathSegment[] | undefined, asn: number): boolean {
  for (const s of segments ?? []) if (s.asns.includes(asn)) return true;
  return false;
}

export function formatAsPath(segments: readonly AsPathSegment[] | undefined): string {
  return (segments ?? []).map((s) => {
    const text = s.asns.join(' ');
    switch (s.type) {
      case AsPathSegmentType.Set: return `{${text}}`;
      case AsPathSegmentType.ConfedSequence: return `(${text})`;
      case AsPathSegmentType.ConfedSet: return `[${text}]`;
      default: return text;
    }
  }).join(' ');
}
