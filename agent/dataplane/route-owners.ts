// Who made each Gingham route: the agent records its plan's owners per network namespace, so
// that `gingham-agent routes` (another process, maybe much later) can name them.
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { RouteOwner } from '../../shared/dataplane-plan/index.ts';
import { NO_ROUTE, type PlannedBgpRoutes } from './bgp-plan.ts';

export interface OwnersRecord {
  pid: number;
  updated: string;
  routes: Record<string, RouteOwner>;
}

function runDir(): string {
  return process.env.GINGHAM_RUN_DIR ?? '/run/gingham';
}

/** One file per network namespace: `ip netns exec` shares /run, but not the namespace's inode. */
export function ownersFile(): string {
  const namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? 'default';
  return path.join(runDir(), 'dataplane', `routes-${namespace}.json`);
}

/** What is written of each route: its destination (unique in a plan) and its owner. */
interface OwnedRoute {
  dst: string;
  owner: RouteOwner;
}

/** Bytes of text written at a time. */
const CHUNK = 1 << 16;

/**
 * Writes the record (as JSON.stringify of an OwnersRecord writes it) piece by piece: at a million
 * BGP routes the record as one object and one string was hundreds of megabytes at once. The BGP
 * routes' owners are their kind's owner with their own block: each kind's JSON is made once, and
 * a route's is that text around its prefix.
 */
export function writeOwners(routes: readonly OwnedRoute[], bgp?: PlannedBgpRoutes): void {
  const file = ownersFile();
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(`${file}.tmp`, 'w');
  try {
    let text = `{"pid":${process.pid},"updated":${JSON.stringify(new Date().toISOString())},"routes":{`;
    let first = true;
    const add = (entry: string) => {
      text += first ? entry : `,${entry}`;
      first = false;
      if (text.length >= CHUNK) {
        writeSync(fd, text);
        text = '';
      }
    };
    // A prefix both lists name is written once, as the BGP routes only plan what no other route takes.
    for (const route of routes) add(`${JSON.stringify(route.dst)}:${JSON.stringify(route.owner)}`);
    if (bgp) {
      const kinds = bgp.kinds.map((kind) => ownerTemplate(kind.owner));
      for (let i = 0; i < bgp.table.size; i++) {
        const k = bgp.kindOf[i]!;
        if (k === NO_ROUTE) continue;
        const cidr = bgp.table.cidr(i);
        const [before, after] = kinds[k]!;
        add(after === undefined ? `"${cidr}":${before}` : `"${cidr}":${before}${cidr}${after}`);
      }
    }
    writeSync(fd, `${text}}}`);
  } finally {
    closeSync(fd);
  }
  renameSync(`${file}.tmp`, file);
}

/** An owner's JSON split where its block goes ([whole] for an owner without a block). */
function ownerTemplate(owner: RouteOwner): [string, string?] {
  if (!('block' in owner)) return [JSON.stringify(owner)];
  const marker = '\u0000block\u0000';
  const [before, after] = JSON.stringify({ ...owner, block: marker }).split(JSON.stringify(marker).slice(1, -1));
  return [before!, after!];
}

export function readOwners(): OwnersRecord | undefined {
  try {
    return JSON.parse(readFileSync(ownersFile(), 'utf8')) as OwnersRecord;
  } catch {
    return undefined;
  }
}

export function removeOwners(): void {
  rmSync(ownersFile(), { force: true });
}
