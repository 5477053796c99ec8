// The speaker's hot path without sockets: decode N prefixes' worth of UPDATEs (as BIRD packs them,
// ~1000 /24s per 4096-octet message) and insert them into the RIB, then withdraw them all.
// Run: npx tsx bench/bgp-rib.ts [N]
import { MessageType } from '../agent/bgp/codec/constants.ts';
import { decodeMessage } from '../agent/bgp/codec/message.ts';
import { type Nlri, packUpdates } from '../agent/bgp/codec/update.ts';
import { Rib } from '../agent/bgp/rib/rib.ts';
import { RouteAttributes } from '../agent/bgp/rib/route-attributes.ts';
import { benchArgs } from './support/options.ts';

const cli = benchArgs({}, 'npx tsx bench/bgp-rib.ts [N=1000000]', { positionals: 1 });
const n = cli.positionals[0] === undefined ? 1_000_000 : cli.number(0);
const ctx = { as4: true, addPath: false, ebgp: false };
const prefixes: Nlri[] = [];
for (let i = 0; i < n; i++) prefixes.push({ address: (0x10000000 + i * 256) >>> 0, length: 24, pathId: 0 });
const messages = packUpdates([], { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: 0x0a000001, localPref: 100 }, prefixes, ctx, 4096);
const withdrawals = packUpdates(prefixes, undefined, [], ctx, 4096);
prefixes.length = 0;
const source = { index: 1, address: 0x0a000001, routerId: 0x0a000001, asn: 64512, ebgp: false, routeReflectorClient: false };
const rssBefore = process.memoryUsage().rss;

const rib = new Rib();
// CPU time as well as wall time: on a shared machine the wall clock mostly measures the others.
const cpu = process.cpuUsage();
let t = performance.now();
for (const m of messages) {
  const r = decodeMessage(m, { ...ctx, maxLength: 4096 });
  if (!r.ok || r.value.type !== MessageType.Update) throw new Error('decode failed');
  const u = r.value.update;
  const key = `1:${u.rawAttributes.toString('latin1')}`;
  const idx = rib.intern(key, () => new RouteAttributes(source, u.attributes, u.attributes.asPath ?? [], u.attributes.nextHop ?? 0, key));
  for (const p of u.nlri) rib.update(1, p.address, p.length, 0, idx);
}
const ingest = performance.now() - t;
const ingestCpu = process.cpuUsage(cpu);
let dirty = 0;
t = performance.now();
rib.drainDirty(() => dirty++);
const drain = performance.now() - t;
const rssAfter = process.memoryUsage().rss;
t = performance.now();
for (const m of withdrawals) {
  const r = decodeMessage(m, { ...ctx, maxLength: 4096 });
  if (!r.ok || r.value.type !== MessageType.Update) throw new Error('decode failed');
  for (const p of r.value.update.withdrawn) rib.withdraw(1, p.address, p.length, 0);
}
const withdraw = performance.now() - t;
console.log(`${n} prefixes in ${messages.length} UPDATEs`);
console.log(`decode + RIB insert: ${ingest.toFixed(0)} ms (${(n / ingest * 1000 / 1e6).toFixed(2)} M prefixes/s), CPU ${((ingestCpu.user + ingestCpu.system) / 1000).toFixed(0)} ms`);
console.log(`best-path change drain: ${drain.toFixed(0)} ms for ${dirty} prefixes`);
console.log(`decode + withdraw: ${withdraw.toFixed(0)} ms; RIB arrays ${(rib.bytes / 1e6).toFixed(1)} MB; RSS growth ${((rssAfter - rssBefore) / 1e6).toFixed(0)} MB; left ${rib.prefixCount}`);
