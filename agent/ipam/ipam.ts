// Calico-compatible IPAM over the Kubernetes API. A node claims blocks from the pools that select
// it (BlockAffinity, then IPAMBlock, then the affinity confirmed), hands out addresses from its
// blocks, and records who holds each address in an IPAMHandle. Races between nodes are decided
// by the API server: only one create of a block succeeds (409 for the others), and every update
// carries the resourceVersion it was computed from (409 when someone else wrote in between), so
// the loser re-reads and tries again.
//
// When no block is free, a node borrows an address from another node's block, as Calico does
// unless the IPAMConfig `default` sets strictAffinity; an empty block that no longer fits the node
// (its pool is gone or no longer selects it) is released, and an empty block without affinity
// is deleted, as Calico's libcalico-go does on release.
import { calicoCrdV1 } from '../../shared/model/meta.ts';
import { emptyIPAMBlock, parseIPAMBlock, parseIPAMHandle, type BlockAffinity, type IPAMBlock, type IPAMHandle } from '../../shared/model/ipam.ts';
import type { IPPool } from '../../shared/model/ippool.ts';
import { blockAffinityName, blockName, cidrSize, containsAddress, containsCidr, formatCidr, nthBlock, parseCidr, parseIPv4 } from '../../shared/net/index.ts';
import { isConflict, isForbidden, isNotFound, type KubeApi } from '../datastore/kube-api.ts';
import { selects, type Labels } from '../../shared/model/selector.ts';
import { addressAt, allocate, freeCount, ordinalsOfHandle, releaseHandle } from '../../shared/model/block-allocations.ts';
import { defaultLockFile, withHostLock } from './host-lock.ts';

export type AddressUse = 'Workload' | 'Tunnel';

export interface Assignment {
  address: string;
  /** The block the address came from. */
  block: string;
  pool: string;
  /** The block is another node's (the address was borrowed). */
  borrowed?: boolean;
}

/** What Calico's IPAMConfig `default` says; without one, Calico's defaults. */
export interface IpamConfig {
  strictAffinity: boolean;
}

export class IpamError extends Error {}

const maxAttempts = 20;

/** Calico stores a handle under its ID, lower-cased (object names must be). */
export const handleObjectName = (handleId: string) => handleId.toLowerCase();

const ref = (kind: string, name: string) => ({ apiVersion: calicoCrdV1, kind, metadata: { name } });

export interface IpamOptions {
  /**
   * The node's IPAM lock file (every writer on the node takes it, as Calico's CNI plugin takes
   * /var/run/calico/ipam.lock); false for none (several simulated nodes in one test process).
   */
  lockFile?: string | false;
  /**
   * The blocks as a watch cache has them (the agent's datastore), read instead of a list call
   * where a stale block is safe: every write of a block carries the resourceVersion it was read
   * at, so a block that changed since costs a conflict and a fresh list, never an address given
   * twice. Without it (the CNI plugin, a process per pod), every read is a call.
   */
  cachedBlocks?: () => IPAMBlock[];
}

export class Ipam {
  private readonly lockFile: string | false;
  private readonly cachedBlocks: (() => IPAMBlock[]) | undefined;

  constructor(
    private readonly client: KubeApi,
    readonly nodeName: string,
    private readonly log: (message: string) => void = () => {},
    options: IpamOptions = {},
  ) {
    this.lockFile = options.lockFile ?? defaultLockFile(nodeName);
    this.cachedBlocks = options.cachedBlocks;
  }

  /** Claims, assignments and releases of one node never overlap (see host-lock.ts). */
  private locked<T>(work: () => Promise<T>): Promise<T> {
    return this.lockFile ? withHostLock(this.lockFile, work) : work();
  }

  /** Pools this node may take `use` addresses from: enabled, selecting the node, allowing the use. */
  usablePools(pools: IPPool[], nodeLabels: Labels, use: AddressUse): IPPool[] {
    return pools.filter((pool) => !pool.spec.disabled && pool.spec.allowedUses.includes(use) && selects(pool.spec.nodeSelector, nodeLabels));
  }

  private async listBlocks(): Promise<IPAMBlock[]> {
    const { items } = await this.client.list<unknown>(calicoCrdV1, 'IPAMBlock');
    return items.map(parseIPAMBlock);
  }

  /** This node's blocks (by affinity) inside `pools`; `cached`: from the watch cache, when there is one. */
  async ownBlocks(pools: IPPool[], options: { cached?: boolean } = {}): Promise<IPAMBlock[]> {
    const blocks = options.cached && this.cachedBlocks ? this.cachedBlocks() : await this.listBlocks();
    return blocks.filter((b) => b.spec.affinity === `host:${this.nodeName}` && pools.some((p) => poolContains(p, b.spec.cidr)));
  }

  /**
   * Claims one more block for this node from `pool`: the lowest block no node holds. Returns the
   * block's CIDR, or undefined when the pool has no free block left.
   */
  claimBlock(pool: IPPool): Promise<string | undefined> {
    return this.locked(() => this.claimBlockNow(pool));
  }

  private async claimBlockNow(pool: IPPool): Promise<string | undefined> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const taken = new Set((await this.listBlocks()).map((b) => b.spec.cidr));
      const cidr = firstFreeBlock(pool, taken);
      if (!cidr) return undefined;
      if (await this.tryClaim(cidr)) {
        this.log(`claimed block ${cidr} from pool ${pool.metadata.name}`);
        return cidr;
      }
    }
    throw new IpamError(`could not claim a block in pool ${pool.metadata.name} after ${maxAttempts} attempts: other nodes keep winning the races`);
  }

  /** The claim of one block, as Calico does it: pending affinity, block create, confirmed affinity. */
  private async tryClaim(cidr: string): Promise<boolean> {
    const affinityName = blockAffinityName(this.nodeName, cidr);
    const pending: BlockAffinity & { kind: string } = {
      apiVersion: calicoCrdV1,
      kind: 'BlockAffinity',
      metadata: { name: affinityName },
      spec: { node: this.nodeName, cidr, state: 'pending', deleted: 'false' },
    };
    let affinity: BlockAffinity;
    try {
      affinity = await this.client.create(pending);
    } catch (error) {
      if (!isConflict(error)) throw error;
      // Ours from an earlier, interrupted claim: carry on with it.
      affinity = (await this.client.get<BlockAffinity>(ref('BlockAffinity', affinityName)))!;
      if (!affinity) return false;
    }
    const block = { ...emptyIPAMBlock(cidr, this.nodeName), kind: 'IPAMBlock' };
    block.spec.affinityClaimTime = new Date().toISOString();
    try {
      await this.client.create(block);
    } catch (error) {
      if (!isConflict(error)) throw error;
      const existing = await this.client.get<IPAMBlock>(ref('IPAMBlock', blockName(cidr)));
      if (existing?.spec.affinity !== `host:${this.nodeName}`) {
        // Another node created it first: it is theirs. Withdraw our pending affinity.
        await this.client.delete({ ...ref('BlockAffinity', affinityName), metadata: { name: affinityName } });
        return false;
      }
    }
    await this.confirm(affinity);
    return true;
  }

  /** Marks our affinity confirmed; another claim of ours running at the same time may have done it first. */
  private async confirm(affinity: BlockAffinity): Promise<void> {
    let current: BlockAffinity | undefined = affinity;
    for (let attempt = 0; attempt < maxAttempts && current && current.spec.state !== 'confirmed'; attempt++) {
      try {
        await this.client.replace({ ...current, kind: 'BlockAffinity', spec: { ...current.spec, state: 'confirmed' } });
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        current = await this.client.get<BlockAffinity>(ref('BlockAffinity', current.metadata.name));
      }
    }
  }

  /**
   * Calico's IPAMConfig `default` (crd.projectcalico.org/v1 IPAMConfig). No such object, or no
   * such CRD (a cluster without Calico), means Calico's defaults: strictAffinity off.
   */
  async config(): Promise<IpamConfig> {
    try {
      const raw = await this.client.get<{ spec?: { strictAffinity?: boolean } }>(ref('IPAMConfig', 'default'));
      return { strictAffinity: raw?.spec?.strictAffinity === true };
    } catch (error) {
      if (isNotFound(error)) return { strictAffinity: false };
      if (isForbidden(error)) {
        this.log('cannot read IPAMConfig "default" (the agent\'s ClusterRole lacks get on ipamconfigs: apply `gingham-agent manifests` again); assuming strictAffinity false');
        return { strictAffinity: false };
      }
      throw error;
    }
  }

  /**
   * Hands out one address for `handleId` from this node's blocks in `pools`, claiming a new block
   * when they are full, and borrowing from another node's block when no block is left (unless
   * strictAffinity). `secondary` is what Calico records with it (namespace, pod, node, type).
   */
  assign(handleId: string, secondary: Record<string, string>, pools: IPPool[], options: { strictAffinity?: boolean } = {}): Promise<Assignment> {
    return this.locked(() => this.assignNow(handleId, secondary, pools, options));
  }

  private async assignNow(handleId: string, secondary: Record<string, string>, pools: IPPool[], options: { strictAffinity?: boolean }): Promise<Assignment> {
    if (pools.length === 0) throw new IpamError(`no IP pool selects node ${this.nodeName} for this use: check the pools' nodeSelector, allowedUses and disabled`);
    // The watch cache first (no list call), until it has been wrong once.
    let cached = this.cachedBlocks !== undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const own = await this.ownBlocks(pools, { cached });
      const withRoom = own.find((b) => freeCount(b.spec) > 0);
      if (!withRoom && cached) {
        // The cache may not have an address freed (or a block claimed) a moment ago: a fresh list
        // before claiming a block the node does not need.
        cached = false;
        continue;
      }
      if (!withRoom) {
        let claimed = false;
        for (const pool of pools) {
          if (await this.claimBlockNow(pool)) {
            claimed = true;
            break;
          }
        }
        if (claimed) continue;
        const names = pools.map((p) => p.metadata.name).join(', ');
        const strict = options.strictAffinity ?? (await this.config()).strictAffinity;
        if (strict) throw new IpamError(`every block of pools ${names} is taken and strictAffinity (IPAMConfig default) forbids borrowing from other nodes' blocks: add a pool or free addresses`);
        const borrowed = await this.borrow(handleId, secondary, pools);
        if (borrowed === 'full') throw new IpamError(`every address of pools ${names} is in use: add a pool or free addresses`);
        if (borrowed) return borrowed;
        continue;
      }
      const result = await this.allocateIn(withRoom, handleId, secondary);
      if (result) {
        const pool = pools.find((p) => poolContains(p, withRoom.spec.cidr))!;
        return { address: result, block: withRoom.spec.cidr, pool: pool.metadata.name };
      }
      // Lost a race for the block (or the cache was behind it): back off a little, at random, so
      // the racers spread out, and read the blocks afresh.
      cached = false;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * (attempt + 1)));
    }
    throw new IpamError(`could not assign an address to ${handleId} after ${maxAttempts} attempts (conflicting writers)`);
  }

  /**
   * One address from a block of another node (or of none), as Calico's autoAssign does once no
   * block can be claimed: blocks in an order that starts at a place given by the node's name, so
   * that nodes short of addresses do not all race for the same block. 'full' when no block in
   * `pools` has a free address; undefined when a race was lost (try again).
   */
  private async borrow(handleId: string, secondary: Record<string, string>, pools: IPPool[]): Promise<Assignment | 'full' | undefined> {
    const candidates = (await this.listBlocks())
      .filter((b) => b.spec.affinity !== `host:${this.nodeName}` && freeCount(b.spec) > 0 && pools.some((p) => poolContains(p, b.spec.cidr)))
      .sort((a, b) => parseCidr(a.spec.cidr).address - parseCidr(b.spec.cidr).address);
    if (candidates.length === 0) return 'full';
    const start = hashOf(this.nodeName) % candidates.length;
    for (let i = 0; i < candidates.length; i++) {
      const block = candidates[(start + i) % candidates.length]!;
      const address = await this.allocateIn(block, handleId, secondary);
      if (!address) continue;
      const pool = pools.find((p) => poolContains(p, block.spec.cidr))!;
      this.log(`borrowed ${address} from block ${block.spec.cidr} (${block.spec.affinity ?? 'no affinity'}): no block of pool ${pool.metadata.name} was free`);
      return { address, block: block.spec.cidr, pool: pool.metadata.name, borrowed: true };
    }
    return undefined;
  }

  /** One allocation in `block`: handle first, then the block; undefined when the block changed under us. */
  private async allocateIn(block: IPAMBlock, handleId: string, secondary: Record<string, string>): Promise<string | undefined> {
    const next = allocate(block.spec, handleId, secondary);
    if (!next) return undefined;
    // The handle is counted first, so that a crash leaves a handle that holds nothing (which
    // `ipam check` and release can see) rather than an address nobody holds.
    await this.changeHandle(handleId, block.spec.cidr, +1);
    try {
      await this.client.replace({ ...block, kind: 'IPAMBlock', spec: next.spec });
    } catch (error) {
      await this.changeHandle(handleId, block.spec.cidr, -1);
      if (isConflict(error)) return undefined;
      throw error;
    }
    return addressAt(block.spec.cidr, next.ordinal);
  }

  private async changeHandle(handleId: string, cidr: string, delta: number): Promise<void> {
    const name = handleObjectName(handleId);
    // A new handle (a pod's, a tunnel address's after its release) is the common case when
    // counting up: create it first, and read it only when it exists.
    let create = delta > 0;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = create ? undefined : await this.client.get<IPAMHandle>(ref('IPAMHandle', name));
      create = false;
      if (!raw) {
        if (delta < 0) return;
        try {
          await this.client.create({ ...ref('IPAMHandle', name), spec: { handleID: handleId, block: { [cidr]: delta }, deleted: false } });
          return;
        } catch (error) {
          if (isConflict(error)) continue;
          throw error;
        }
      }
      const handle = parseIPAMHandle({ ...raw, kind: 'IPAMHandle' });
      const counts = { ...handle.spec.block };
      counts[cidr] = (counts[cidr] ?? 0) + delta;
      if (counts[cidr]! <= 0) delete counts[cidr];
      try {
        if (Object.keys(counts).length === 0) await this.client.delete({ ...ref('IPAMHandle', name), metadata: { name, resourceVersion: raw.metadata.resourceVersion } });
        else await this.client.replace({ ...raw, kind: 'IPAMHandle', spec: { ...handle.spec, block: counts } });
        return;
      } catch (error) {
        if (isConflict(error)) continue;
        throw error;
      }
    }
    throw new IpamError(`could not update IPAM handle ${handleId}: it kept changing under us`);
  }

  /**
   * Whether the watch cache shows `address` held by `handleId`: the agent's check that a tunnel
   * address it gave out itself is still held, without a call. Undefined without a cache. Only a
   * yes is worth anything (an address assigned a moment ago may not be in the cache yet), and
   * only about an address this process assigned and has not released since.
   */
  cacheShowsHeld(handleId: string, address: string): boolean | undefined {
    if (!this.cachedBlocks) return undefined;
    const ip = parseIPv4(address);
    const block = this.cachedBlocks().find((b) => containsAddress(parseCidr(b.spec.cidr), ip));
    return block !== undefined && ordinalsOfHandle(block.spec, handleId).some((o) => addressAt(block.spec.cidr, o) === address);
  }

  /** The addresses `handleId` holds now (for an idempotent CNI ADD, and for tunnel addresses). */
  async addressesOf(handleId: string): Promise<Assignment[]> {
    const raw = await this.client.get<IPAMHandle>(ref('IPAMHandle', handleObjectName(handleId)));
    if (!raw) return [];
    const out: Assignment[] = [];
    for (const cidr of Object.keys(raw.spec.block)) {
      const block = await this.client.get<IPAMBlock>(ref('IPAMBlock', blockName(cidr)));
      if (!block) continue;
      for (const ordinal of ordinalsOfHandle(block.spec, handleId)) out.push({ address: addressAt(cidr, ordinal), block: cidr, pool: '' });
    }
    return out;
  }

  /** Frees every address `handleId` holds and deletes the handle; returns the freed addresses. */
  release(handleId: string): Promise<string[]> {
    return this.locked(() => this.releaseNow(handleId));
  }

  private async releaseNow(handleId: string): Promise<string[]> {
    const raw = await this.client.get<IPAMHandle>(ref('IPAMHandle', handleObjectName(handleId)));
    if (!raw) return [];
    const freed: string[] = [];
    for (const cidr of Object.keys(raw.spec.block)) {
      for (let attempt = 0; ; attempt++) {
        const block = await this.client.get<IPAMBlock>(ref('IPAMBlock', blockName(cidr)));
        if (!block) break;
        const next = releaseHandle(block.spec, handleId);
        if (next.released.length === 0) break;
        try {
          // An empty block that no node holds goes (libcalico-go's releaseIPsFromBlock).
          if (!next.spec.affinity && isEmpty(next.spec)) await this.client.delete({ ...ref('IPAMBlock', block.metadata.name), metadata: { name: block.metadata.name, resourceVersion: block.metadata.resourceVersion } });
          else await this.client.replace({ ...block, kind: 'IPAMBlock', spec: next.spec });
          freed.push(...next.released.map((ordinal) => addressAt(cidr, ordinal)));
          await this.changeHandle(handleId, cidr, -next.released.length);
          break;
        } catch (error) {
          if (!isConflict(error) || attempt >= maxAttempts) throw error;
        }
      }
    }
    // Whatever count is left (a crash between handle and block) goes with the handle.
    await this.client.delete(ref('IPAMHandle', handleObjectName(handleId)));
    return freed;
  }

  /**
   * Gives up this node's affinity for one of its blocks, as libcalico-go's releaseBlockAffinity:
   * the BlockAffinity marked pendingDeletion, then the block deleted when empty (or, without
   * `mustBeEmpty`, kept with no affinity so its addresses stay valid), then the affinity deleted.
   * False when the block is not this node's, or not empty with `mustBeEmpty`.
   */
  releaseBlockAffinity(cidr: string, options: { mustBeEmpty: boolean }): Promise<boolean> {
    return this.locked(() => this.releaseBlockAffinityNow(cidr, options));
  }

  private async releaseBlockAffinityNow(cidr: string, options: { mustBeEmpty: boolean }): Promise<boolean> {
    const affinityName = blockAffinityName(this.nodeName, cidr);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const block = await this.client.get<IPAMBlock>(ref('IPAMBlock', blockName(cidr)));
      if (!block || block.spec.affinity !== `host:${this.nodeName}`) return false;
      const empty = isEmpty(block.spec);
      if (options.mustBeEmpty && !empty) return false;
      const affinity = await this.client.get<BlockAffinity>(ref('BlockAffinity', affinityName));
      let marked: BlockAffinity | undefined;
      if (affinity) {
        try {
          marked = await this.client.replace({ ...affinity, kind: 'BlockAffinity', spec: { ...affinity.spec, state: 'pendingDeletion' } });
        } catch (error) {
          if (isConflict(error)) continue;
          throw error;
        }
      }
      try {
        if (empty) await this.client.delete({ ...ref('IPAMBlock', block.metadata.name), metadata: { name: block.metadata.name, resourceVersion: block.metadata.resourceVersion } });
        else {
          const { affinity: _mine, ...spec } = block.spec;
          await this.client.replace({ ...block, kind: 'IPAMBlock', spec });
        }
      } catch (error) {
        if (!isConflict(error)) throw error;
        // The block changed (an address was handed out meanwhile): the affinity stands.
        if (marked) await this.client.replace({ ...marked, kind: 'BlockAffinity', spec: { ...marked.spec, state: 'confirmed' } }).catch(() => undefined);
        continue;
      }
      if (marked) await this.client.delete({ ...ref('BlockAffinity', affinityName), metadata: { name: affinityName, resourceVersion: marked.metadata.resourceVersion } }).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      this.log(`released block ${cidr}${empty ? ' (empty: deleted)' : ' (kept without affinity: addresses in use)'}`);
      return true;
    }
    throw new IpamError(`could not release block ${cidr}: it kept changing under us`);
  }

  /**
   * Calico's ensureConsistentAffinity for every block of this node: an empty block whose pool is
   * gone or no longer selects the node is released, so another node (one its pool selects) can
   * claim it. Blocks with addresses in use stay until their pods are gone. Returns the released
   * blocks. `blocks` is what the caller already knows (the agent's watch cache); each is re-read
   * before it goes.
   */
  releaseUnfitEmptyBlocks(blocks: IPAMBlock[], pools: IPPool[], nodeLabels: Labels): Promise<string[]> {
    return this.locked(() => this.releaseUnfitEmptyBlocksNow(blocks, pools, nodeLabels));
  }

  private async releaseUnfitEmptyBlocksNow(blocks: IPAMBlock[], pools: IPPool[], nodeLabels: Labels): Promise<string[]> {
    const released: string[] = [];
    for (const block of unfitEmptyBlocks(blocks, pools, nodeLabels, this.nodeName)) {
      if (await this.releaseBlockAffinityNow(block.spec.cidr, { mustBeEmpty: true })) released.push(block.spec.cidr);
    }
    return released;
  }
}

/** The node's empty blocks whose pool is gone or no longer selects the node (Calico releases them). */
export function unfitEmptyBlocks(blocks: IPAMBlock[], pools: IPPool[], nodeLabels: Labels, nodeName: string): IPAMBlock[] {
  return blocks.filter((block) => {
    if (block.spec.affinity !== `host:${nodeName}` || !isEmpty(block.spec)) return false;
    const pool = pools.find((p) => poolContains(p, block.spec.cidr));
    return !pool || !selects(pool.spec.nodeSelector, nodeLabels);
  });
}

function isEmpty(spec: IPAMBlock['spec']): boolean {
  return spec.allocations.every((a) => a === null);
}

/** FNV-1a: a stable number per node name (where a node starts looking for a block to borrow from). */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

function poolContains(pool: IPPool, blockCidr: string): boolean {
  try {
    return containsCidr(pool.cidr, parseCidr(blockCidr));
  } catch {
    return false;
  }
}

/** The lowest block of `pool` that is not in `taken`. */
export function firstFreeBlock(pool: IPPool, taken: Set<string>): string | undefined {
  const count = cidrSize(pool.cidr) / 2 ** (32 - pool.spec.blockSize);
  for (let i = 0; i < count; i++) {
    const cidr = formatCidr(nthBlock(pool.cidr, pool.spec.blockSize, i));
    if (!taken.has(cidr)) return cidr;
  }
  return undefined;
}
