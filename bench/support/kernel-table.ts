// Counting and clearing a receiver's kernel routes in its namespace, for the benchmarks that time
// routes into the kernel.

export interface NamespaceNode {
  name: string;
  exec(cmd: string, args: string[], options?: { allowFail?: boolean; timeoutMs?: number }): Promise<string>;
}

/**
 * Prefixes in the namespace's main table, from the kernel's trie statistics: a counter read, not a
 * dump. Counting by dumping the table every second slowed the installer being measured (a dump of
 * a million routes took several seconds here, competing with the inserts), and it hit a receiver
 * that installs after taking in routes (Gingham's writer) harder than one that installs as it
 * receives (BIRD).
 */
export async function mainTablePrefixes(node: NamespaceNode): Promise<number> {
  const stats = await node.exec('cat', ['/proc/net/fib_triestat']);
  const main = /Main:[\s\S]*?Prefixes:\s+(\d+)/.exec(stats);
  if (!main) throw new Error(`no Main table in /proc/net/fib_triestat:\n${stats}`);
  return Number(main[1]);
}

/** Routes of one protocol number in the main table (a dump: for checks after the clock stopped). */
export async function protocolRoutes(node: NamespaceNode, protocol: number): Promise<number> {
  const out = await node.exec('ip', ['-4', 'route', 'show', 'proto', String(protocol)], { timeoutMs: 120_000 });
  let lines = 0;
  for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n', i + 1)) lines++;
  return lines;
}

/**
 * Removes the routes of `protocols` from the node's table and waits until `baseline` prefixes are
 * left. A receiver stopped with a million routes may leave them (FRR's zebra is killed when it
 * takes longer than 20 s to remove them), and leftovers would be counted as the next receiver's.
 */
export async function clearRoutes(node: NamespaceNode, protocols: number[], baseline: number, timeoutMs = 600_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    for (const protocol of new Set(protocols)) await node.exec('ip', ['route', 'flush', 'proto', String(protocol)], { allowFail: true, timeoutMs: 600_000 });
    // FRR's zebra installs routes through nexthop objects; `ip route flush` cannot remove those
    // routes ("Invalid argument"), removing the nexthop objects does (the receiver's own namespace).
    await node.exec('ip', ['nexthop', 'flush'], { allowFail: true, timeoutMs: 600_000 });
    const now = await mainTablePrefixes(node);
    if (now <= baseline) return;
    if (Date.now() > deadline) throw new Error(`${node.name}: ${now - baseline} routes left in the table after flushing`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
