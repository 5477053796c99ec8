// Packets lost by one pod pair through a switch, counted from its continuous ping (iputils ping
// -D at 100 per second, run in the source pod's namespace; continuous-probe.ts): every sequence
// number up to the last one sent that got no reply. The only packets not counted are the last
// two sent before the probe was stopped, whose replies may still have been on their way (the
// lab's round trip is well under one 10 ms interval).
export interface PingLoss {
  sent: number;
  received: number;
  lost: number;
  longestGapMs: number;
  /** When the longest gap began (the reply before it), epoch ms; absent with fewer than two replies. */
  longestGapAt?: number;
}

/** Packets sent just before the stop whose replies are not waited for. */
export const stopAllowance = 2;

/** `text`: lines `EPOCH_SECONDS SEQ` (one per reply) and ping's `N packets transmitted, M received` line. */
export function pingLoss(text: string): PingLoss {
  const replies = new Map<number, number>();
  let transmitted: number | undefined;
  for (const line of text.split('\n')) {
    const reply = /^(\d+\.\d+) (\d+)$/.exec(line.trim());
    if (reply) {
      const seq = Number(reply[2]);
      if (!replies.has(seq)) replies.set(seq, Number(reply[1]) * 1000);
      continue;
    }
    const summary = /(\d+) packets transmitted/.exec(line);
    if (summary) transmitted = Number(summary[1]);
  }
  const seqs = [...replies.keys()].sort((a, b) => a - b);
  const last = seqs.at(-1) ?? 0;
  const sent = transmitted ?? last;
  let missingInside = 0;
  for (let seq = 1, i = 0; seq <= last; seq++) {
    if (seqs[i] === seq) i++;
    else missingInside++;
  }
  const tail = Math.max(0, sent - last - stopAllowance);
  let longestGapMs = 0;
  let longestGapAt: number | undefined;
  for (let i = 1; i < seqs.length; i++) {
    const gap = replies.get(seqs[i]!)! - replies.get(seqs[i - 1]!)!;
    if (gap > longestGapMs || longestGapAt === undefined) {
      longestGapMs = Math.max(longestGapMs, gap);
      longestGapAt = Math.round(replies.get(seqs[i - 1]!)!);
    }
  }
  const counted = Math.max(last, sent - stopAllowance);
  return { sent: counted, received: Math.min(replies.size, counted), lost: missingInside + tail, longestGapMs: Math.round(longestGapMs), ...(longestGapAt !== undefined ? { longestGapAt } : {}) };
}
