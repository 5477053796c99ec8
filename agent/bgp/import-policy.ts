// Import policy (GoBGP's policy, the import side): whether a received route may enter the RIB.
// eBGP: the path must start with the peer's AS (RFC 4271 6.3's first-AS check) and must not hold
// ours (a loop); iBGP: reflection loops by ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 8); and an
// eBGP peer with no explicit policy imports nothing (RFC 8212).
import { AsPathSegmentType } from './codec/constants.ts';
import { type AsPathSegment, type PathAttributes, asPathContains } from './codec/update.ts';
import type { PeerSettings } from './peer.ts';

export interface ImportContext {
  readonly asn: number;
  readonly routerId: number;
  readonly clusterId: number;
}

/** Why a route from `peer` with these attributes is refused, or undefined when it is accepted. */
export function importRefusal(
  peer: { readonly ebgp: boolean; readonly settings: Pick<PeerSettings, 'asn' | 'importPolicy'> },
  attrs: PathAttributes,
  asPath: readonly AsPathSegment[],
  ctx: ImportContext,
): string | undefined {
  if (peer.ebgp) {
    const first = asPath[0];
    if (!first || first.type !== AsPathSegmentType.Sequence || first.asns[0] !== peer.settings.asn) return 'AS_PATH does not start with the peer AS';
    if (asPathContains(asPath, ctx.asn)) return 'AS_PATH loop';
  } else {
    if (attrs.originatorId === ctx.routerId) return 'ORIGINATOR_ID is ours';
    if (attrs.clusterList?.includes(ctx.clusterId)) return 'CLUSTER_LIST loop';
  }
  if (peer.settings.importPolicy === 'none') return 'import policy: none (RFC 8212: eBGP needs an explicit policy)';
  return undefined;
}
