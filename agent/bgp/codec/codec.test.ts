import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AS_TRANS, AddPathMode, Afi, AttrFlag, CapabilityCode, ErrorCode, HeaderSubcode, MessageType, OpenSubcode,
  Safi, UpdateSubcode,
} from './constants.ts';
import { frame } from './header.ts';
import { decodeMessage } from './message.ts';
import { type OpenMessage, encodeOpen, localCapabilities, peerAsOf, summarizeCapabilities } from './open.ts';
import { encodeKeepalive, encodeNotification, encodeRouteRefresh } from './simple-messages.ts';
import {
  type Nlri, type PathAttributes, type UpdateContext, encodeEndOfRib, encodeUpdate, isEndOfRib, packUpdates,
  reconstructAsPath,
} from './update.ts';

const ibgp: UpdateContext = { as4: true, addPath: false, ebgp: false };
const options = (ctx: UpdateContext = ibgp, maxLength = 4096) => ({ ...ctx, maxLength });

function decode(buf: Buffer, ctx: UpdateContext = ibgp, maxLength = 4096) {
  return decodeMessage(buf, options(ctx, maxLength));
}

function decodedUpdate(buf: Buffer, ctx: UpdateContext = ibgp) {
  const r = decode(buf, ctx);
  if (!r.ok) throw new Error(`unexpected error ${r.error.reason}`);
  if (r.value.type !== MessageType.Update) throw new Error('not an update');
  return r.value.update;
}

function expectError(buf: Buffer, code: number, subcode: number, ctx: UpdateContext = ibgp) {
  const r = decode(buf, ctx);
  expect(r.ok, r.ok ? 'decoded without error' : '').toBe(false);
  if (!r.ok) {
    expect([r.error.code, r.error.subcode]).toEqual([code, subcode]);
    return r.error;
  }
  throw new Error('unreachable');
}

/** A raw UPDATE built by hand, for malformed cases the encoder would never produce. */
function rawUpdate(withdrawn: number[], attrs: number[], nlri: number[]): Buffer {
  const body = Buffer.from([withdrawn.length >> 8, withdrawn.length & 255, ...withdrawn, attrs.length >> 8, attrs.length & 255, ...attrs, ...nlri]);
  return frame(MessageType.Update, body);
}

const ORIGIN_IGP = [0x40, 1, 1, 0];
const EMPTY_AS_PATH = [0x40, 2, 0];
const NEXT_HOP = [0x40, 3, 4, 10, 0, 0, 1];
const MANDATORY = [...ORIGIN_IGP, ...EMPTY_AS_PATH, ...NEXT_HOP];
const PREFIX_10_1_24 = [24, 10, 1, 0];

describe('OPEN', () => {
  const open: OpenMessage = {
    version: 4,
    myAs: 64512,
    holdTime: 90,
    routerId: 0x0af00101,
    capabilities: localCapabilities({ asn: 64512, gracefulRestart: { restarting: true, restartTime: 120, forwarding: true } }),
    otherParameters: [],
  };

  it('round-trips every capability this speaker sends', () => {
    const r = decode(encodeOpen(open));
    expect(r.ok && r.value.type === MessageType.Open && r.value.open).toEqual(open);
    const summary = summarizeCapabilities(open.capabilities);
    expect(summary).toMatchObject({
      fourOctetAs: 64512, ipv4Unicast: true, routeRefresh: true, enhancedRouteRefresh: true, extendedMessage: true,
      gracefulRestart: { restarting: true, restartTime: 120, ipv4Forwarding: true }, addPathIpv4: AddPathMode.Receive,
    });
  });

  it('puts AS_TRANS in the 2-octet field for a 4-octet AS and reads the real AS from the capability', () => {
    const big = { ...open, myAs: 4_200_000_000, capabilities: localCapabilities({ asn: 4_200_000_000 }) };
    const encoded = encodeOpen(big);
    expect(encoded.readUInt16BE(20)).toBe(AS_TRANS);
    const r = decode(encoded);
    expect(r.ok && r.value.type === MessageType.Open && peerAsOf(r.value.open)).toBe(4_200_000_000);
  });

  it('reads RFC 9072 extended optional parameters', () => {
    const r = decode(encodeOpen({ ...open, extendedParameters: true }));
    expect(r.ok && r.value.type === MessageType.Open && r.value.open).toEqual({ ...open, extendedParameters: true });
  });

  it('keeps unknown capabilities as raw bytes', () => {
    const withUnknown = { ...open, capabilities: [{ code: 73, raw: Buffer.from('node-1'), unknown: true as const }] };
    const r = decode(encodeOpen(withUnknown));
    expect(r.ok && r.value.type === MessageType.Open && r.value.open.capabilities).toEqual(withUnknown.capabilities);
  });

  it('refuses version 3 with the supported version in the data', () => {
    const buf = encodeOpen(open);
    buf[19] = 3;
    const e = expectError(buf, ErrorCode.OpenMessage, OpenSubcode.UnsupportedVersion);
    expect([...e.data]).toEqual([0, 4]);
  });

  it('refuses hold times of 1 and 2 seconds', () => {
    expectError(encodeOpen({ ...open, holdTime: 2 }), ErrorCode.OpenMessage, OpenSubcode.UnacceptableHoldTime);
  });

  it('refuses BGP identifier 0', () => {
    expectError(encodeOpen({ ...open, routerId: 0 }), ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier);
  });

  it('refuses a capability that runs past its parameter', () => {
    const buf = encodeOpen({ ...open, capabilities: [{ code: CapabilityCode.FourOctetAs, asn: 1 }] });
    buf[buf.length - 5] = 9; // capability length 4 -> 9
    expectError(buf, ErrorCode.OpenMessage, OpenSubcode.Unspecific);
  });
});

describe('header', () => {
  it('answers a broken marker with Connection Not Synchronized', () => {
    const buf = Buffer.from(encodeKeepalive());
    buf[3] = 0;
    expectError(buf, ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized);
  });

  it('answers a bad length with Bad Message Length carrying the length', () => {
    const buf = Buffer.from(encodeKeepalive());
    buf.writeUInt16BE(18, 16);
    const e = expectError(buf, ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength);
    expect(e.data.readUInt16BE(0)).toBe(18);
  });

  it('refuses a KEEPALIVE longer than 19 octets', () => {
    expectError(frame(MessageType.Keepalive, Buffer.from([0])), ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength);
  });

  it('refuses more than 4096 octets unless extended messages were negotiated', () => {
    const big = encodeUpdate({ withdrawn: [], attributes: { origin: 0, asPath: [], nextHop: 1 << 24, other: [{ flags: 0xc0, type: 99, value: Buffer.alloc(5000) }] }, nlri: [{ address: 0x0a000000, length: 8, pathId: 0 }] }, ibgp);
    expectError(big, ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength);
    expect(decode(big, ibgp, 65535).ok).toBe(true);
  });

  it('answers an unknown type with Bad Message Type carrying the type', () => {
    const e = expectError(frame(9, Buffer.alloc(4)), ErrorCode.MessageHeader, HeaderSubcode.BadMessageType);
    expect([...e.data]).toEqual([9]);
  });
});

describe('KEEPALIVE, NOTIFICATION, ROUTE-REFRESH', () => {
  it('round-trip', () => {
    expect(decode(encodeKeepalive())).toEqual({ ok: true, value: { type: MessageType.Keepalive } });
    const n = { code: 6, subcode: 2, data: Buffer.from('bye') };
    expect(decode(encodeNotification(n))).toEqual({ ok: true, value: { type: MessageType.Notification, notification: n } });
    const rr = { afi: 1, safi: 1, subtype: 1 };
    expect(decode(encodeRouteRefresh(rr))).toEqual({ ok: true, value: { type: MessageType.RouteRefresh, routeRefresh: rr } });
  });

  it('answers a ROUTE-REFRESH of the wrong length with the whole message as data (RFC 7313)', () => {
    const bad = frame(MessageType.RouteRefresh, Buffer.from([0, 1, 0, 1, 0]));
    const e = expectError(bad, ErrorCode.RouteRefreshMessage, 1);
    expect(e.data).toEqual(bad);
  });
});

describe('UPDATE round trips', () => {
  const attrs: PathAttributes = {
    origin: 0,
    asPath: [{ type: 2, asns: [65001, 4_200_000_000] }, { type: 1, asns: [1, 2] }],
    nextHop: 0x0af00101,
    med: 10,
    localPref: 200,
    atomicAggregate: true,
    aggregator: { asn: 65001, address: 0x01020304 },
    communities: [0xfde80064],
    originatorId: 0x0a000001,
    clusterList: [0x0a000002, 0x0a000003],
    other: [{ flags: AttrFlag.Optional | AttrFlag.Transitive | AttrFlag.Partial, type: 99, value: Buffer.from([1, 2, 3]) }],
  };
  const nlri: Nlri[] = [
    { address: 0x0a010000, length: 24, pathId: 0 },
    { address: 0xc0a80040, length: 26, pathId: 0 },
    { address: 0, length: 0, pathId: 0 },
    { address: 0x0a0a0a0a, length: 32, pathId: 0 },
  ];

  it('keeps every attribute and prefix', () => {
    const u = decodedUpdate(encodeUpdate({ withdrawn: [nlri[1]!], attributes: attrs, nlri }, ibgp));
    expect(u.attributes).toEqual(attrs);
    expect(u.nlri).toEqual(nlri);
    expect(u.withdrawn).toEqual([nlri[1]]);
    expect(u.treatAsWithdraw).toBeUndefined();
    expect(u.discarded).toEqual([]);
  });

  it('carries ADD-PATH path identifiers', () => {
    const ctx = { ...ibgp, addPath: true };
    const withIds = nlri.map((p, i) => ({ ...p, pathId: i + 1 }));
    expect(decodedUpdate(encodeUpdate({ withdrawn: [], attributes: attrs, nlri: withIds }, ctx), ctx).nlri).toEqual(withIds);
  });

  it('towards a 2-octet peer writes AS_TRANS and AS4_PATH, and the path can be rebuilt', () => {
    const ctx = { ...ibgp, as4: false };
    const u = decodedUpdate(encodeUpdate({ withdrawn: [], attributes: { ...attrs, aggregator: undefined }, nlri }, ctx), ctx);
    expect(u.attributes.asPath).toEqual([{ type: 2, asns: [65001, AS_TRANS] }, { type: 1, asns: [1, 2] }]);
    expect(reconstructAsPath(u.attributes.asPath!, u.attributes.as4Path)).toEqual(attrs.asPath);
  });

  it('round-trips MP_REACH_NLRI and MP_UNREACH_NLRI for IPv4 unicast', () => {
    const mp: PathAttributes = {
      origin: 2, asPath: [],
      mpReach: { afi: Afi.Ipv4, safi: Safi.Unicast, nextHop: Buffer.from([10, 0, 0, 9]), nlri: nlri.slice(0, 2) },
      mpUnreach: { afi: Afi.Ipv4, safi: Safi.Unicast, withdrawn: nlri.slice(2) },
    };
    const u = decodedUpdate(encodeUpdate({ withdrawn: [], attributes: mp, nlri: [] }, ibgp));
    expect(u.attributes).toEqual(mp);
    expect(u.treatAsWithdraw).toBeUndefined();
  });

  it('recognizes End-of-RIB', () => {
    expect(isEndOfRib(decodedUpdate(encodeEndOfRib()))).toBe(true);
    expect(isEndOfRib(decodedUpdate(encodeUpdate({ withdrawn: [], attributes: { mpUnreach: { afi: 1, safi: 1, withdrawn: [] } }, nlri: [] }, ibgp)))).toBe(true);
    expect(isEndOfRib(decodedUpdate(encodeUpdate({ withdrawn: nlri, attributes: {}, nlri: [] }, ibgp)))).toBe(false);
  });

  it('packs 10000 prefixes into UPDATEs that each fit the limit and lose nothing', () => {
    const many = Array.from({ length: 10000 }, (_, i) => ({ address: (0x0a000000 + i * 256) >>> 0, length: 24, pathId: 0 }));
    const messages = packUpdates(many.slice(0, 500), { origin: 0, asPath: [], nextHop: 0x0a000001 }, many, ibgp, 4096);
    const got: Nlri[] = [];
    const gone: Nlri[] = [];
    for (const m of messages) {
      expect(m.length).toBeLessThanOrEqual(4096);
      const u = decodedUpdate(m);
      got.push(...u.nlri);
      gone.push(...u.withdrawn);
    }
    expect(got).toEqual(many);
    expect(gone).toEqual(many.slice(0, 500));
  });
});

describe('UPDATE errors (RFC 7606)', () => {
  it('a withdrawn length that overruns the message resets the session', () => {
    expectError(frame(MessageType.Update, Buffer.from([0, 9, 0, 0])), ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList);
  });

  it('a total attribute length that overruns the message resets the session', () => {
    expectError(frame(MessageType.Update, Buffer.from([0, 0, 0, 40, 0x40, 1, 1, 0])), ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList);
  });

  it('malformed NLRI resets the session with Invalid Network Field', () => {
    expectError(rawUpdate([], MANDATORY, [33, 10, 0, 0, 0, 0]), ErrorCode.UpdateMessage, UpdateSubcode.InvalidNetworkField);
    expectError(rawUpdate([], MANDATORY, [24, 10, 0]), ErrorCode.UpdateMessage, UpdateSubcode.InvalidNetworkField);
    expectError(rawUpdate([40, 1], [], []), ErrorCode.UpdateMessage, UpdateSubcode.InvalidNetworkField);
  });

  it('an unrecognized well-known attribute resets the session with the attribute as data', () => {
    const e = expectError(rawUpdate([], [...MANDATORY, 0x40, 77, 1, 5], PREFIX_10_1_24), ErrorCode.UpdateMessage, UpdateSubcode.UnrecognizedWellKnownAttribute);
    expect([...e.data]).toEqual([0x40, 77, 1, 5]);
  });

  it('wrong flags on ORIGIN mean treat-as-withdraw, not a reset', () => {
    const u = decodedUpdate(rawUpdate([], [0xc0, 1, 1, 0, ...EMPTY_AS_PATH, ...NEXT_HOP], PREFIX_10_1_24));
    expect(u.treatAsWithdraw).toMatch(/flags/);
    expect(u.nlri).toEqual([{ address: 0x0a010000, length: 24, pathId: 0 }]);
  });

  it('a malformed AS_PATH means treat-as-withdraw', () => {
    expect(decodedUpdate(rawUpdate([], [...ORIGIN_IGP, 0x40, 2, 2, 2, 3, ...NEXT_HOP], PREFIX_10_1_24)).treatAsWithdraw).toMatch(/AS_PATH/);
    expect(decodedUpdate(rawUpdate([], [...ORIGIN_IGP, 0x40, 2, 2, 9, 0, ...NEXT_HOP], PREFIX_10_1_24)).treatAsWithdraw).toMatch(/AS_PATH/);
  });

  it('a bad ORIGIN value, NEXT_HOP length or missing mandatory attribute means treat-as-withdraw', () => {
    expect(decodedUpdate(rawUpdate([], [0x40, 1, 1, 7, ...EMPTY_AS_PATH, ...NEXT_HOP], PREFIX_10_1_24)).treatAsWithdraw).toMatch(/ORIGIN/);
    expect(decodedUpdate(rawUpdate([], [...ORIGIN_IGP, ...EMPTY_AS_PATH, 0x40, 3, 3, 10, 0, 0], PREFIX_10_1_24)).treatAsWithdraw).toMatch(/NEXT_HOP/);
    expect(decodedUpdate(rawUpdate([], [...ORIGIN_IGP, ...EMPTY_AS_PATH], PREFIX_10_1_24)).treatAsWithdraw).toMatch(/missing.*NEXT_HOP/);
  });

  it('an attribute overrunning the attribute field means treat-as-withdraw', () => {
    expect(decodedUpdate(rawUpdate([], [...MANDATORY, 0xc0, 8, 40, 0, 0, 0, 0], PREFIX_10_1_24)).treatAsWithdraw).toMatch(/claims/);
  });

  it('a bad ATOMIC_AGGREGATE or AGGREGATOR is discarded and the route kept', () => {
    const u = decodedUpdate(rawUpdate([], [...MANDATORY, 0x40, 6, 1, 0, 0xc0, 7, 3, 1, 2, 3], PREFIX_10_1_24));
    expect(u.treatAsWithdraw).toBeUndefined();
    expect(u.discarded).toHaveLength(2);
    expect(u.attributes.atomicAggregate).toBeUndefined();
  });

  it('LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from an external peer are discarded', () => {
    const ebgp = { ...ibgp, ebgp: true };
    const u = decodedUpdate(rawUpdate([], [...MANDATORY, 0x40, 5, 4, 0, 0, 0, 100, 0x80, 9, 4, 1, 1, 1, 1, 0x80, 10, 4, 2, 2, 2, 2], PREFIX_10_1_24), ebgp);
    expect(u.discarded).toHaveLength(3);
    expect(u.attributes.localPref).toBeUndefined();
    expect(u.treatAsWithdraw).toBeUndefined();
  });

  it('a repeated attribute keeps the first copy', () => {
    const u = decodedUpdate(rawUpdate([], [...MANDATORY, 0x80, 4, 4, 0, 0, 0, 1, 0x80, 4, 4, 0, 0, 0, 2], PREFIX_10_1_24));
    expect(u.attributes.med).toBe(1);
    expect(u.discarded).toHaveLength(1);
  });

  it('two MP_REACH_NLRI attributes reset the session', () => {
    const mp = [0x80, 14, 9, 0, 1, 1, 4, 10, 0, 0, 1, 0];
    expectError(rawUpdate([], [...ORIGIN_IGP, ...EMPTY_AS_PATH, ...mp, ...mp], []), ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList);
  });

  it('a malformed MP_REACH_NLRI resets the session', () => {
    expectError(rawUpdate([], [...ORIGIN_IGP, ...EMPTY_AS_PATH, 0x80, 14, 8, 0, 1, 1, 4, 10, 0, 0, 1], []), ErrorCode.UpdateMessage, UpdateSubcode.OptionalAttributeError);
    expectError(rawUpdate([], [...ORIGIN_IGP, ...EMPTY_AS_PATH, 0x80, 14, 11, 0, 1, 1, 4, 10, 0, 0, 1, 0, 40, 1], []), ErrorCode.UpdateMessage, UpdateSubcode.OptionalAttributeError);
  });

  it('unknown optional transitive attributes are passed on with the Partial bit; non-transitive ones dropped', () => {
    const u = decodedUpdate(rawUpdate([], [...MANDATORY, 0xc0, 200, 1, 9, 0x80, 201, 1, 9], PREFIX_10_1_24));
    expect(u.attributes.other).toEqual([{ flags: 0xe0, type: 200, value: Buffer.from([9]) }]);
  });
});

describe('fuzzing: no exception escapes the decoder', () => {
  const contexts: UpdateContext[] = [ibgp, { as4: false, addPath: true, ebgp: true }, { as4: true, addPath: true, ebgp: false }];

  function decodeSafely(buf: Buffer): void {
    for (const ctx of contexts) {
      const r = decodeMessage(buf, options(ctx, 65535));
      if (!r.ok) {
        expect(r.error.code).toBeGreaterThanOrEqual(1);
        expect(r.error.code).toBeLessThanOrEqual(7);
        expect(Buffer.isBuffer(r.error.data)).toBe(true);
      }
    }
  }

  it('survives 5000 random messages with valid headers', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 300 }), (type, body) => {
      decodeSafely(frame(type, Buffer.from(body)));
    }), { numRuns: 5000 });
  });

  it('survives 5000 random byte strings', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (bytes) => {
      decodeSafely(Buffer.from(bytes));
    }), { numRuns: 5000 });
  });

  const seedBuffers = [
    encodeOpen({ version: 4, myAs: 64512, holdTime: 90, routerId: 1, capabilities: localCapabilities({ asn: 64512, gracefulRestart: { restarting: false, restartTime: 120, forwarding: false } }), otherParameters: [] }),
    encodeUpdate({ withdrawn: [{ address: 0x0a000000, length: 8, pathId: 0 }], attributes: { origin: 0, asPath: [{ type: 2, asns: [1, 2, 3] }], nextHop: 0x0a000001, med: 5, localPref: 100, communities: [1], originatorId: 3, clusterList: [4] }, nlri: [{ address: 0x0b000000, length: 8, pathId: 0 }, { address: 0x0c0c0c00, length: 24, pathId: 0 }] }, ibgp),
    encodeUpdate({ withdrawn: [], attributes: { origin: 0, asPath: [], mpReach: { afi: 1, safi: 1, nextHop: Buffer.from([1, 2, 3, 4]), nlri: [{ address: 0x0a000000, length: 8, pathId: 0 }] }, mpUnreach: { afi: 1, safi: 1, withdrawn: [{ address: 0x0b000000, length: 8, pathId: 0 }] } }, nlri: [] }, ibgp),
    encodeNotification({ code: 6, subcode: 4, data: Buffer.alloc(3) }),
    encodeRouteRefresh({ afi: 1, safi: 1, subtype: 0 }),
  ];

  it('survives 10000 mutations of valid messages (bit flips, truncation, splices)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: seedBuffers.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat()),
      (seed, mutations, cut) => {
        const buf = Buffer.from(seedBuffers[seed]!);
        for (const [at, byte] of mutations) {
          // Mostly leave the marker alone so that mutations reach the body decoders.
          const index = 16 + (at % (buf.length - 16));
          buf[index] = byte;
        }
        const input = cut === null ? buf : buf.subarray(0, cut % (buf.length + 1));
        decodeSafely(input);
      },
    ), { numRuns: 10000 });
  });
});
