// Who made each Gingham route: the agent records its plan's owners per network namespace, so
// that `gingham-agent routes` (another process, maybe much later) can name them.
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { RouteOwner } from '../../shared/dataplane-plan/index.ts';

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
 * BGP routes the record as one object and one string was hundreds of megabytes at once.
 */
export function writeOwners(routes: readonly OwnedRoute[]): void {
  const file = ownersFile();
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(`${file}.tmp`, 'w');
  try {
    let text = `{"pid":${process.pid},"updated":${JSON.stringify(new Date().toISOString())},"routes":{`;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      text += `${i === 0 ? '' : ','}${JSON.stringify(route.dst)}:${JSON.stringify(route.owner)}`;
      if (text.length >= CHUNK) {
        writeSync(fd, text);
        text = '';
      }
    }
    writeSync(fd, `${text}}}`);
  } finally {
    closeSync(fd);
  }
  renameSync(`${file}.tmp`, file);
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
