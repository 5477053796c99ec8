// Wire-to-row latency of a live capture (ksniff#6): a real sshd node in a namespace, the console's
// backend capturing on it over SSH (tcpdump on the node, streamed, decoded, batched), and iperf3
// sending UDP to the node at a steady rate. A packet's wire time is its kernel timestamp (tcpdump's,
// the row's `t`: the same machine's clock); its row's time is when the backend's capture.packets
// event carrying it is emitted to the renderer (the end of the contract that needs no browser; the
// transport and the draw come after). Acknowledges every batch at once, as a renderer that keeps up.
// Prints p50/p99/max per run of the steady flow (from its first second to its last), with rows
// skipped and the node kernel's drops; and apart, the flow's last packets: tcpdump hands a kernel
// block over when it is full or after 1 s, so the packets after a flow's last full block wait up
// to that second (a flow that stops, or one slower than a block a second, sees this on every row).
// Run (root): npx tsx bench/capture-latency.ts [--pps 10000] [--seconds 10] [--size 100] [--runs 3] [--batch-ms 50]
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { connectedCaptureBackend } from '../e2e/capture-backend.ts';
import { benchArgs } from './support/options.ts';

const cli = benchArgs(
  {
    pps: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    /** UDP payload bytes. */
    size: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    /** The backend's longest wait before a batch is sent (CaptureOptions.batchMs). */
    'batch-ms': { type: 'string', default: '50' },
  },
  'npx tsx bench/capture-latency.ts [--pps 10000] [--seconds 10] [--size 100] [--runs 3] [--batch-ms 50]',
);
const pps = cli.number('pps');
const seconds = cli.number('seconds');
const size = cli.number('size');
const runs = cli.number('runs');
const batchMs = cli.number('batch-ms');
const port = 5311;

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

let onBatch: (payload: { captureId: string; rows: Array<{ t: number }>; skipped: number; kernelDropped?: number }) => void = () => undefined;
const { node, nodeId, client, close } = await connectedCaptureBackend({ slot: 2, prefix: 'gclt', subnet: '100.64.232' }, { batchMs }, (event, payload) => {
  if (event === 'capture.packets') onBatch(payload as never);
});
try {
  console.log(`${pps} packets/s of ${size}-byte UDP for ${seconds} s, batches within ${batchMs} ms, ${runs} runs; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let run = 1; run <= runs; run++) {
    const cap = await client.handlers['capture.start']({ nodeId, interface: 'any', filter: `udp and dst port ${port}` });
    const latencies: number[] = [];
    let skipped = 0;
    let kernelDropped = 0;
    let warm = Infinity;
    let cool = Infinity;
    const tail: number[] = [];
    onBatch = (batch) => {
      if (batch.captureId !== cap.captureId) return;
      const at = performance.timeOrigin + performance.now();
      // The first second is warm-up (iperf3's start, the first blocks).
      for (const row of batch.rows) {
        if (row.t >= cool) tail.push(at - row.t * 1000);
        else if (row.t >= warm) latencies.push(at - row.t * 1000);
      }
      skipped = batch.skipped;
      kernelDropped = batch.kernelDropped ?? kernelDropped;
      client.notifications['capture.ack']({ captureId: cap.captureId, rows: batch.rows.length });
    };
    const server = spawn('ip', ['netns', 'exec', node.netns, 'iperf3', '-s', '-1', '-p', String(port)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    warm = Date.now() / 1000 + 1;
    const sender = spawn('iperf3', ['-c', node.address, '-p', String(port), '-u', '-b', String(pps * size * 8), '-l', String(size), '-t', String(seconds + 1)], { stdio: 'ignore' });
    // Rows after the flow's last second are its tail, not its steady state.
    setTimeout(() => (cool = Date.now() / 1000), seconds * 1000 + 500);
    await new Promise((r) => sender.once('exit', r));
    server.kill();
    // The last blocks: tcpdump hands over a partly filled block after its 1 s timeout.
    await new Promise((r) => setTimeout(r, 1500));
    await client.handlers['capture.stop']({ captureId: cap.captureId });
    await client.handlers['capture.discard']({ captureId: cap.captureId });
    const sorted = Float64Array.from(latencies).sort();
    const ms = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
    console.log(
      `run ${run}: ${sorted.length} rows of the steady flow (${(sorted.length / (seconds - 0.5)).toFixed(0)}/s): wire to row p50 ${ms(percentile(sorted, 50))} ms, p99 ${ms(percentile(sorted, 99))} ms, max ${ms(sorted.at(-1))} ms; ` +
        `its last ${tail.length} rows up to ${ms(Math.max(...tail))} ms; ${skipped} rows skipped, ${kernelDropped} dropped by the node's kernel; load ${loadavg()[0]!.toFixed(2)}`,
    );
  }
} finally {
  await close();
}
