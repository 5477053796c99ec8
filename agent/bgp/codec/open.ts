// OPEN messages and their capabilities (RFC 4271 4.2, RFC 5492), with RFC 9072 extended optional
// parameters. Encoding and decoding are pure functions over Buffers.
import {
  AS_TRANS, AddPathMode, Afi, BGP_VERSION, CapabilityCode, ErrorCode, HeaderSubcode, MessageType, OpenSubcode,
  OptionalParameterType, Safi,
} from './constants.ts';
import { type BgpError, type Decoded, bgpError, fail, ok } from './errors.ts';
import { frame } from './header.ts';

export interface GracefulRestartFamily {
  afi: number;
  safi: number;
  /** F bit: forwarding state was preserved across the restart. */
  forwarding: boolean;
}

export interface AddPathFamily {
  afi: number;
  safi: number;
  mode: number;
}

export type Capability =
  | { code: typeof CapabilityCode.Multiprotocol; afi: number; safi: number }
  | { code: typeof CapabilityCode.RouteRefresh }
  | { code: typeof CapabilityCode.EnhancedRouteRefresh }
  | { code: typeof CapabilityCode.ExtendedMessage }
  | { code: typeof CapabilityCode.FourOctetAs; asn: number }
  | {
      code: typeof CapabilityCode.GracefulRestart;
      /** R bit: the sender has restarted. */
      restarting: boolean;
      /** N bit (RFC 8538). */
      notification: boolean;
      /** Seconds, 12 bits. */
      restartTime: number;
      families: GracefulRestartFamily[];
    }
  | { code: typeof CapabilityCode.AddPath; families: AddPathFamily[] }
  | { code: number; raw: Buffer; unknown: true };

export interface OpenMessage {
  version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS when the real AS needs 4 octets). */
  myAs: number;
  holdTime: number;
  routerId: number;
  capabilities: Capability[];
  /** Optional parameters other than capabilities (none are defined today; kept to refuse them). */
  otherParameters: Array<{ type: number; value: Buffer }>;
  /** Encode with RFC 9072 extended optional parameters (decoding sets it when the peer used them). */
  extendedParameters?: boolean;
}

/** What a set of capabilities means, for negotiation. */
export interface CapabilitySummary {
  fourOctetAs?: number;
  ipv4Unicast: boolean;
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  extendedMessage: boolean;
  gracefulRestart?: { restarting: boolean; restartTime: number; ipv4Forwarding?: boolean };
  /** ADD-PATH mode for IPv4 unicast (1 receive, 2 send, 3 both). */
  addPathIpv4?: number;
}

export function summarizeCapabilities(capabilities: readonly Capability[]): CapabilitySummary {
  const summary: CapabilitySummary = { ipv4Unicast: false, routeRefresh: false, enhancedRouteRefresh: false, extendedMessage: false };
  for (const cap of capabilities) {
    if ('unknown' in cap) continue;
    switch (cap.code) {
      case CapabilityCode.Multiprotocol:
        if (cap.afi === Afi.Ipv4 && cap.safi === Safi.Unicast) summary.ipv4Unicast = true;
        break;
      case CapabilityCode.RouteRefresh: summary.routeRefresh = true; break;
      case CapabilityCode.EnhancedRouteRefresh: summary.enhancedRouteRefresh = true; break;
      case CapabilityCode.ExtendedMessage: summary.extendedMessage = true; break;
      case CapabilityCode.FourOctetAs: summary.fourOctetAs = cap.asn; break;
      case CapabilityCode.GracefulRestart: {
        const v4 = cap.families.find((f) => f.afi === Afi.Ipv4 && f.safi === Safi.Unicast);
        summary.gracefulRestart = { restarting: cap.restarting, restartTime: cap.restartTime, ...(v4 ? { ipv4Forwarding: v4.forwarding } : {}) };
        break;
      }
      case CapabilityCode.AddPath: {
        const v4 = cap.families.find((f) => f.afi === Afi.Ipv4 && f.safi === Safi.Unicast);
        if (v4) summary.addPathIpv4 = v4.mode;
        break;
      }
    }
  }
  return summary;
}

/** The peer's real AS: the 4-octet AS capability wins over the 2-octet field (RFC 6793). */
export function peerAsOf(open: OpenMessage): number {
  const cap = open.capabilities.find((c) => c.code === CapabilityCode.FourOctetAs && !('unknown' in c));
  return cap && 'asn' in cap ? cap.asn : open.myAs;
}

function encodeCapability(cap: Capability): Buffer {
  let value: Buffer;
  if ('unknown' in cap) {
    value = cap.raw;
  } else {
    switch (cap.code) {
      case CapabilityCode.Multiprotocol:
        value = Buffer.from([cap.afi >> 8, cap.afi & 255, 0, cap.safi]);
        break;
      case CapabilityCode.RouteRefresh:
      case CapabilityCode.EnhancedRouteRefresh:
      case CapabilityCode.ExtendedMessage:
        value = Buffer.alloc(0);
        break;
      case CapabilityCode.FourOctetAs:
        value = Buffer.alloc(4);
        value.writeUInt32BE(cap.asn >>> 0);
        break;
      case CapabilityCode.GracefulRestart: {
        value = Buffer.alloc(2 + 4 * cap.families.length);
        value.writeUInt16BE((cap.restarting ? 0x8000 : 0) | (cap.notification ? 0x4000 : 0) | (cap.restartTime & 0xfff));
        cap.families.forEach((f, i) => {
          value.writeUInt16BE(f.afi, 2 + 4 * i);
          value[4 + 4 * i] = f.safi;
          value[5 + 4 * i] = f.forwarding ? 0x80 : 0;
        });
        break;
      }
      case CapabilityCode.AddPath: {
        value = Buffer.alloc(4 * cap.families.length);
        cap.families.forEach((f, i) => {
          value.writeUInt16BE(f.afi, 4 * i);
          value[2 + 4 * i] = f.safi;
          value[3 + 4 * i] = f.mode;
        });
        break;
      }
      default:
        value = Buffer.alloc(0);
    }
  }
  return Buffer.concat([Buffer.from([cap.code, value.length]), value]);
}

export function encodeOpen(open: OpenMessage): Buffer {
  const params: Array<{ type: number; value: Buffer }> = [];
  // One capability per optional parameter is what BIRD, FRR and GoBGP accept; all in one also works,
  // but per-parameter is the most widely interoperable form.
  for (const cap of open.capabilities) params.push({ type: OptionalParameterType.Capabilities, value: encodeCapability(cap) });
  params.push(...open.otherParameters);
  const extended = open.extendedParameters === true || params.some((p) => p.value.length > 255)
    || params.reduce((n, p) => n + 2 + p.value.length, 0) > 255;
  const encodedParams = params.map((p) => {
    const head = extended ? Buffer.from([p.type, p.value.length >> 8, p.value.length & 255]) : Buffer.from([p.type, p.value.length]);
    return Buffer.concat([head, p.value]);
  });
  const paramBytes = Buffer.concat(encodedParams);
  const fixed = Buffer.alloc(10);
  fixed[0] = open.version;
  fixed.writeUInt16BE(open.myAs > 0xffff ? AS_TRANS : open.myAs, 1);
  fixed.writeUInt16BE(open.holdTime, 3);
  fixed.writeUInt32BE(open.routerId >>> 0, 5);
  if (extended) {
    // RFC 9072: Non-Ext OP Len = 255, Non-Ext OP Type = 255, then a 2-octet length.
    fixed[9] = 255;
    const ext = Buffer.from([255, paramBytes.length >> 8, paramBytes.length & 255]);
    return frame(MessageType.Open, Buffer.concat([fixed, ext, paramBytes]));
  }
  fixed[9] = paramBytes.length;
  return frame(MessageType.Open, Buffer.concat([fixed, paramBytes]));
}

function openError(subcode: number, reason: string, data?: Buffer): BgpError {
  return bgpError(ErrorCode.OpenMessage, subcode, reason, data);
}

function decodeCapabilities(body: Buffer, into: Capability[]): BgpError | undefined {
  let i = 0;
  while (i < body.length) {
    if (i + 2 > body.length) return openError(OpenSubcode.Unspecific, 'a capability header runs past its parameter');
    const code = body[i]!;
    const length = body[i + 1]!;
    const start = i + 2;
    const end = start + length;
    if (end > body.length) return openError(OpenSubcode.Unspecific, `capability ${code} claims ${length} octets, more than its parameter holds`);
    const v = body.subarray(start, end);
    const malformed = (): BgpError => openError(OpenSubcode.Unspecific, `capability ${code} has a malformed value of ${length} octets`);
    switch (code) {
      case CapabilityCode.Multiprotocol:
        if (length !== 4) return malformed();
        into.push({ code, afi: v.readUInt16BE(0), safi: v[3]! });
        break;
      case CapabilityCode.RouteRefresh:
      case CapabilityCode.EnhancedRouteRefresh:
      case CapabilityCode.ExtendedMessage:
        if (length !== 0) return malformed();
        into.push({ code } as Capability);
        break;
      case CapabilityCode.FourOctetAs:
        if (length !== 4) return malformed();
        into.push({ code, asn: v.readUInt32BE(0) });
        break;
      case CapabilityCode.GracefulRestart: {
        if (length < 2 || (length - 2) % 4 !== 0) return malformed();
        const flags = v.readUInt16BE(0);
        const families: GracefulRestartFamily[] = [];
        for (let j = 2; j < length; j += 4) families.push({ afi: v.readUInt16BE(j), safi: v[j + 2]!, forwarding: (v[j + 3]! & 0x80) !== 0 });
        into.push({ code, restarting: (flags & 0x8000) !== 0, notification: (flags & 0x4000) !== 0, restartTime: flags & 0xfff, families });
        break;
      }
      case CapabilityCode.AddPath: {
        if (length % 4 !== 0) return malformed();
        const families: AddPathFamily[] = [];
        for (let j = 0; j < length; j += 4) families.push({ afi: v.readUInt16BE(j), safi: v[j + 2]!, mode: v[j + 3]! });
        into.push({ code, families });
        break;
      }
      default:
        into.push({ code, raw: Buffer.from(v), unknown: true });
    }
    i = end;
  }
  return undefined;
}

/** Decodes an OPEN body (the bytes after the 19-octet header). */
export function decodeOpenBody(body: Buffer): Decoded<OpenMessage> {
  if (body.length < 10) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(body.length + 19);
    return fail(bgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `an OPEN needs at least 29 octets, this one has ${body.length + 19}`, length));
  }
  const version = body[0]!;
  if (version !== BGP_VERSION) {
    return fail(openError(OpenSubcode.UnsupportedVersion, `the peer speaks BGP version ${version}; only 4 is supported`, Buffer.from([0, BGP_VERSION])));
  }
  const myAs = body.readUInt16BE(1);
  const holdTime = body.readUInt16BE(3);
  const routerId = body.readUInt32BE(5);
  if (holdTime === 1 || holdTime === 2) return fail(openError(OpenSubcode.UnacceptableHoldTime, `hold time ${holdTime} s is not allowed (0 or at least 3)`));
  if (routerId === 0) return fail(openError(OpenSubcode.BadBgpIdentifier, 'the BGP identifier is 0.0.0.0'));
  let paramsLength = body[9]!;
  let offset = 10;
  let extended = false;
  if (paramsLength === 255 && body.length > 10 && body[10] === 255) {
    if (body.length < 13) return fail(openError(OpenSubcode.Unspecific, 'the extended optional parameters length is truncated'));
    extended = true;
    paramsLength = body.readUInt16BE(11);
    offset = 13;
  }
  if (offset + paramsLength !== body.length) {
    return fail(openError(OpenSubcode.Unspecific, `optional parameters length ${paramsLength} does not match the ${body.length - offset} octets that follow`));
  }
  const capabilities: Capability[] = [];
  const otherParameters: Array<{ type: number; value: Buffer }> = [];
  const headerSize = extended ? 3 : 2;
  while (offset < body.length) {
    if (offset + headerSize > body.length) return fail(openError(OpenSubcode.Unspecific, 'an optional parameter header is truncated'));
    const type = body[offset]!;
    const length = extended ? body.readUInt16BE(offset + 1) : body[offset + 1]!;
    const start = offset + headerSize;
    if (start + length > body.length) return fail(openError(OpenSubcode.Unspecific, `optional parameter ${type} runs past the message`));
    const value = body.subarray(start, start + length);
    if (type === OptionalParameterType.Capabilities) {
      const error = decodeCapabilities(value, capabilities);
      if (error) return fail(error);
    } else {
      otherParameters.push({ type, value: Buffer.from(value) });
    }
    offset = start + length;
  }
  return ok({ version, myAs, holdTime, routerId, capabilities, otherParameters, ...(extended ? { extendedParameters: true } : {}) });
}

/** The capabilities this speaker offers. */
export function localCapabilities(options: {
  asn: number;
  gracefulRestart?: { restarting: boolean; restartTime: number; forwarding: boolean };
  addPathReceive?: boolean;
  extendedMessage?: boolean;
}): Capability[] {
  const caps: Capability[] = [
    { code: CapabilityCode.Multiprotocol, afi: Afi.Ipv4, safi: Safi.Unicast },
    { code: CapabilityCode.RouteRefresh },
    { code: CapabilityCode.EnhancedRouteRefresh },
    { code: CapabilityCode.FourOctetAs, asn: options.asn },
  ];
  if (options.extendedMessage !== false) caps.push({ code: CapabilityCode.ExtendedMessage });
  if (options.gracefulRestart) {
    caps.push({
      code: CapabilityCode.GracefulRestart,
      restarting: options.gracefulRestart.restarting,
      notification: false,
      restartTime: options.gracefulRestart.restartTime,
      families: [{ afi: Afi.Ipv4, safi: Safi.Unicast, forwarding: options.gracefulRestart.forwarding }],
    });
  }
  if (options.addPathReceive !== false) caps.push({ code: CapabilityCode.AddPath, families: [{ afi: Afi.Ipv4, safi: Safi.Unicast, mode: AddPathMode.Receive }] });
  return caps;
}
