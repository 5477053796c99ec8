// Who made each Gingham route: the agent records its plan's owners per network namespace, so
// that `gingham-agent routes` (another process, maybe much later) can name them.
import { mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

export function writeOwners(routes: Record<string, RouteOwner>): void {
  const file = ownersFile();
  mkdirSync(path.dirname(file), { recursive: true });
  const record: OwnersRecord = { pid: process.pid, updated: new Date().toISOString(), routes };
  writeFileSync(`${file}.tmp`, JSON.stringify(record));
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
