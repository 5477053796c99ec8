// Which run owns a small test bed. The beds of netns-lab.ts and node-network.ts are numbered (their
// bridge, namespaces and addresses carry the number), and two runs of the same test file on one
// machine (two engineers, CI beside a benchmark) must not build the same one. Creating the bed's
// bridge is the claim: `ip link add` either makes it or fails, atomically, and the bridge's alias
// names the claiming process. A bridge whose process has ended is an aborted run's leftover: its
// bed is cleared and taken over.
import { processAlive, runResult } from '../sh.ts';

const aliasPrefix = 'gingham-test-bed pid=';
/** Numbers this process holds now, so that a leftover of its own earlier file is told from a live bed. */
const held = new Set<string>();

export interface BedClaim {
  /** The bed's bridge name for number `id`. */
  bridge: (id: number) => string;
  /** The number the caller would like (its file's own, so that names stay familiar). */
  preferred: number;
  /** Numbers that may be used (the third octet of the bed's addresses). */
  range: readonly [number, number];
  /** Removes whatever a bed with this number left behind, its bridge included. */
  clear: (id: number) => Promise<void>;
}

/** Claims a bed number: the preferred one if it is free or left over, else the next free one. */
export async function claimBed(claim: BedClaim): Promise<number> {
  const [low, high] = claim.range;
  const order = [claim.preferred, ...Array.from({ length: high - low + 1 }, (_, i) => low + i).filter((id) => id !== claim.preferred)];
  for (const id of order) {
    const bridge = claim.bridge(id);
    if (held.has(bridge)) continue;
    if (await tryCreate(bridge)) return hold(bridge, id);
    if (await ownerAlive(bridge)) continue;
    await claim.clear(id);
    if (await tryCreate(bridge)) return hold(bridge, id);
  }
  throw new Error(`every test bed number from ${low} to ${high} is in use by a running test (see \`ip link show type bridge\`); wait for them or end them`);
}

/** Gives the number back; call it after the bed's bridge is gone. */
export function releaseBed(bridge: string): void {
  held.delete(bridge);
}

async function tryCreate(bridge: string): Promise<boolean> {
  const made = await runResult('ip', ['link', 'add', bridge, 'type', 'bridge']);
  if (made.code !== 0) return false;
  await runResult('ip', ['link', 'set', 'dev', bridge, 'alias', `${aliasPrefix}${process.pid}`]);
  return true;
}

function hold(bridge: string, id: number): number {
  held.add(bridge);
  return id;
}

async function ownerAlive(bridge: string): Promise<boolean> {
  const shown = await runResult('ip', ['-j', 'link', 'show', 'dev', bridge]);
  if (shown.code !== 0) return false;
  let alias = aliasOf(shown.stdout);
  if (!alias) {
    // A claim is made in two steps (the bridge, then its alias): give a claim under way time to finish.
    await new Promise((resolve) => setTimeout(resolve, 500));
    alias = aliasOf((await runResult('ip', ['-j', 'link', 'show', 'dev', bridge])).stdout);
  }
  if (!alias.startsWith(aliasPrefix)) return false;
  const pid = Number(alias.slice(aliasPrefix.length));
  // This process's own bed that it no longer holds: an earlier test file that did not clean up.
  return pid !== process.pid && processAlive(pid);
}

function aliasOf(json: string): string {
  try {
    const [link] = JSON.parse(json) as Array<{ ifalias?: string }>;
    return link?.ifalias ?? '';
  } catch {
    return '';
  }
}
