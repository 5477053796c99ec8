// nft monitor read a transaction at a time: the agent's own table writes start no pass, anyone
// else's do, and an nft that names no maker counts as someone else.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NftTransactions, runNft } from './nft.ts';

const lines = (pid: number) => ['add table inet gingham-tunnels', 'add set inet gingham-tunnels cluster-hosts { type ipv4_addr; }', `# new generation 7 by process ${pid} (nft)`];

describe('NftTransactions', () => {
  afterEach(() => vi.useRealTimers());

  it('takes a transaction made by an nft this process ran as no news, and one by any other process as news', async () => {
    // A real nft process (it prints its version and exits): its pid is the one it would write as.
    const ran = await runNft(['--version']);
    expect(ran.ok).toBe(true);
    const ownPid = ran.pid!;
    let news = 0;
    const transactions = new NftTransactions(() => news++);
    for (const line of lines(ownPid)) transactions.line(line);
    expect(news).toBe(0);
    for (const line of lines(ownPid + 100_000)) transactions.line(line);
    expect(news).toBe(1);
    // A pid is ours for one transaction: the same pid later is someone else's process.
    for (const line of lines(ownPid)) transactions.line(line);
    expect(news).toBe(2);
  });

  it('takes lines with no transaction end after them as news a moment later', () => {
    vi.useFakeTimers();
    let news = 0;
    const transactions = new NftTransactions(() => news++);
    transactions.line('delete table ip gingham');
    expect(news).toBe(0);
    vi.advanceTimersByTime(300);
    expect(news).toBe(1);
    // Blank lines and comments alone are nothing.
    transactions.line('');
    transactions.line('# a comment');
    vi.advanceTimersByTime(300);
    expect(news).toBe(1);
  });
});
