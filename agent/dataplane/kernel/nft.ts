// The agent's nft runs, and telling its own nftables writes from others' in `nft monitor`.
// Every change of Gingham's tables comes back from `nft monitor` as a transaction that ends
// `# new generation N by process PID (nft)`. Taken as news, each write of ours started another
// pass that read both tables back: during a switch into VXLAN the pass that gives vxlan.calico
// its address spent 400-650 ms listing tables on the loaded lab, after the admission table's
// write in the pass before. A transaction made by one of our own nft processes is no news; one by
// anyone else (an admin's `nft delete table`, another agent) is, as before.
import { execFile } from 'node:child_process';

export interface NftResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** The nft process's pid: the one its transaction names in `nft monitor`. */
  pid?: number;
}

/** Pids of our nft processes whose transactions may still come back, and until when (ms) they are expected. */
const ownWriters = new Map<number, number>();
/** Longer than any monitor lags behind a write; a pid is forgotten after it (pids are reused). */
const expectMs = 10_000;

/** Runs nft with `args` (and `input` on stdin); what it writes is known as ours in `nft monitor`. */
export function runNft(args: readonly string[], input?: string): Promise<NftResult> {
  return new Promise((resolve) => {
    const child = execFile('nft', args, { encoding: 'utf8' }, (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr, ...(child.pid !== undefined ? { pid: child.pid } : {}) }));
    if (child.pid !== undefined) {
      const now = Date.now();
      for (const [pid, until] of ownWriters) if (until < now) ownWriters.delete(pid);
      ownWriters.set(child.pid, now + expectMs);
    }
    if (input !== undefined) child.stdin?.end(input);
  });
}

const trailer = /^# new generation \d+ by process (\d+) /;
/** How long the lines of a transaction may wait for its end before they count as news anyway. */
const trailerWaitMs = 250;

/**
 * Reads `nft monitor`'s lines a transaction at a time and calls `news` when one ends that
 * someone other than this process's nft made, or whose maker is not said (no trailer in time).
 */
export class NftTransactions {
  private changed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly news: () => void) {}

  line(text: string): void {
    const end = trailer.exec(text);
    if (!end) {
      if (text.trim() === '' || text.startsWith('#')) return;
      this.changed = true;
      this.timer ??= setTimeout(() => this.end(undefined), trailerWaitMs);
      return;
    }
    this.end(Number(end[1]));
  }

  private end(pid: number | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const ours = pid !== undefined && ownWriters.has(pid);
    if (pid !== undefined) ownWriters.delete(pid);
    if (this.changed && !ours) this.news();
    this.changed = false;
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
