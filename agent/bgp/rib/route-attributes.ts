// One interned set of path attributes from one peer, with the numbers route selection compares
// worked out once. Every prefix announced in the same UPDATE (and every later UPDATE with the
// same attribute bytes) shares one of these: a million prefixes from BIRD cost a few hundred.
import type { AsPathSegment, PathAttributes } from '../codec/update.ts';
import { asPathLength } from '../codec/update.ts';

export const LOCAL_PEER = 0;

export interface RouteSource {
  /** Peer index in the RIB; 0 is this speaker's own routes. */
  index: number;
  address: number;
  routerId: number;
  asn: number;
  ebgp: boolean;
  routeReflectorClient: boolean;
}

export class RouteAttributes {
  refs = 0;
  readonly localPref: number;
  readonly pathLength: number;
  readonly origin: number;
  readonly med: number;
  /** The AS the route came from (first AS of the path), to compare MED only between equals. */
  readonly neighborAs: number;
  readonly clusterListLength: number;
  /** ORIGINATOR_ID when present, else the peer's identifier (RFC 4456 9). */
  readonly tieBreakId: number;

  constructor(
    readonly source: RouteSource,
    readonly attributes: PathAttributes,
    /** The effective AS path (AS4_PATH merged in for 2-octet peers). */
    readonly asPath: AsPathSegment[],
    readonly nextHop: number,
    readonly key: string,
  ) {
    this.localPref = attributes.localPref ?? 100;
    this.pathLength = asPathLength(asPath);
    this.origin = attributes.origin ?? 2;
    this.med = attributes.med ?? 0;
    this.neighborAs = asPath[0]?.asns[0] ?? 0;
    this.clusterListLength = attributes.clusterList?.length ?? 0;
    this.tieBreakId = attributes.originatorId ?? source.routerId;
  }
}

/**
 * RFC 4271 9.1.2.2 with RFC 4456's additions. Negative when `a` is better. Own routes first,
 * then LOCAL_PREF, AS path length, ORIGIN, MED (same neighbour AS), eBGP over iBGP, shorter
 * CLUSTER_LIST, lower identifier, lower peer address.
 */
export function compareRoutes(a: RouteAttributes, b: RouteAttributes): number {
  if (a === b) return 0;
  const aLocal = a.source.index === LOCAL_PEER;
  const bLocal = b.source.index === LOCAL_PEER;
  if (aLocal !== bLocal) return aLocal ? -1 : 1;
  if (a.localPref !== b.localPref) return b.localPref - a.localPref;
  if (a.pathLength !== b.pathLength) return a.pathLength - b.pathLength;
  if (a.origin !== b.origin) return a.origin - b.origin;
  if (a.neighborAs === b.neighborAs && a.med !== b.med) return a.med < b.med ? -1 : 1;
  if (a.source.ebgp !== b.source.ebgp) return a.source.ebgp ? -1 : 1;
  if (a.clusterListLength !== b.clusterListLength) return a.clusterListLength - b.clusterListLength;
  if (a.tieBreakId !== b.tieBreakId) return (a.tieBreakId >>> 0) < (b.tieBreakId >>> 0) ? -1 : 1;
  if (a.source.address !== b.source.address) return (a.source.address >>> 0) < (b.source.address >>> 0) ? -1 : 1;
  return 0;
}
