// The main table's routes one at a time, as `ip -json` prints them, without the whole listing in
// memory. A full pass read the table through `ip -batch` as one JSON line and one object per
// route: at 100k BGP routes the 90 s resync raised the agent's peak RSS from 137 to 205 MiB, and
// a million routes are one line of about 150 MB. Here each route's JSON text is handed to `visit`
// on its own, which keeps what it needs (kernel-bgp-routes.ts keeps ours at BGP prefixes as
// numbers, most without parsing them).
import { spawn } from 'node:child_process';

/** Splits the text of a JSON array of objects, as it streams in, into each object's text. */
export class JsonObjectSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The current object's text from earlier chunks. */
  private carried = '';

  constructor(private readonly onObject: (text: string) => void) {}

  push(chunk: string): void {
    let start = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true; // backslash
        else if (c === 0x22) this.inString = false; // quote
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b) { // {
        if (this.depth++ === 0) start = i;
      } else if (c === 0x7d && --this.depth === 0) { // }
        this.onObject(this.carried + chunk.slice(start, i + 1));
        this.carried = '';
        start = -1;
      }
    }
    if (this.depth > 0 && start >= 0) this.carried += chunk.slice(start);
  }
}

/** Every IPv4 route of the main table as its JSON object's text (`ip -N -json -details`, as the batch process reads them). */
export async function forEachKernelRouteText(visit: (text: string) => void): Promise<void> {
  const proc = spawn('ip', ['-N', '-json', '-details', 'route', 'show', 'table', 'main'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const splitter = new JsonObjectSplitter(visit);
  let stderr = '';
  /** A listing we could not read (or a visitor's error): thrown once `ip` has ended, never from the stream's event. */
  let failed: Error | undefined;
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    if (failed) return;
    try {
      splitter.push(chunk);
    } catch (error) {
      failed = error as Error;
      proc.kill();
    }
  });
  proc.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', resolve);
  });
  if (failed) throw new Error(`cannot read ip route show table main: ${failed.message}`);
  if (code !== 0) throw new Error(`ip route show table main failed: ${stderr.trim() || `exit ${code}`}`);
}
