// A pod's network namespace, found by the pod's address among the named ones (/var/run/netns,
// where container runtimes and the lab put them): what the agent's commands that act as a pod
// (probe, measure) enter with nsenter.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const netnsDirs = ['/var/run/netns', '/run/netns'];

/** Whether the namespace at `file` has `ip` on one of its interfaces. */
async function hasAddress(file: string, ip: string): Promise<boolean> {
  try {
    const { stdout } = await run('nsenter', [`--net=${file}`, '--', 'ip', '-4', '-o', 'addr', 'show']);
    return stdout.split('\n').some((line) => line.includes(` ${ip}/`));
  } catch {
    return false; // not a namespace we can enter
  }
}

/** All named namespaces are looked at side by side: a node can have dozens (a pod each), and each look starts two processes. */
export async function netnsOf(ip: string): Promise<string> {
  for (const dir of netnsDirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    const files = names.map((name) => path.join(dir, name));
    const found = (await Promise.all(files.map(async (file) => ((await hasAddress(file, ip)) ? file : undefined)))).find(Boolean);
    if (found) return found;
  }
  throw new Error(`no network namespace in ${netnsDirs.join(' or ')} has the address ${ip}: is that a pod on this node?`);
}

