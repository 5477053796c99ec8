// The measuring client (measure-protocol.ts): TCP throughput over one or several streams, and
// request/response latency (transactions per second, p50 and p99), as the pod sees them.
import { connect, type Socket } from 'node:net';
import type { RequestResponseResult, StreamResult } from '../../shared/api/measurement.ts';
import { requestResponseMode, streamMode, type StreamReport } from './measure-protocol.ts';

/** A connection to the server, waiting up to `timeoutMs` for it to start listening (it is started beside the client). */
function connected(host: string, port: number, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  const noServer = () => new Error(`no measuring server answered on ${host}:${port} within ${timeoutMs / 1000} s (is \`gingham-agent measure serve\` running there, and does the path let TCP through?)`);
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(noServer());
      }, Math.max(0, deadline - Date.now()));
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (error.code !== 'ECONNREFUSED') reject(new Error(`cannot reach the measuring server on ${host}:${port}: ${error.message}`));
        else if (Date.now() + 100 < deadline) setTimeout(attempt, 100);
        else reject(noServer());
      });
    };
    attempt();
  });
}

async function oneStream(host: string, port: number, seconds: number): Promise<StreamReport> {
  const socket = await connected(host, port, 5000);
  const chunk = Buffer.alloc(128 * 1024, 0x61);
  const until = Date.now() + seconds * 1000;
  let reply = '';
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    reply += text;
  });
  const done = new Promise<StreamReport>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('end', () => {
      try {
        resolve(JSON.parse(reply) as StreamReport);
      } catch {
        reject(new Error(`the measuring server answered ${JSON.stringify(reply.slice(0, 80))}, not its report`));
      }
    });
  });
  socket.write(Buffer.of(streamMode));
  // Write while the kernel takes it; wait for drain when it does not; stop at the deadline.
  const pump = () => {
    while (Date.now() < until) {
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
  return done;
}

export async function streamTest(host: string, port: number, seconds: number, streams: number): Promise<StreamResult> {
  const reports = await Promise.all(Array.from({ length: streams }, () => oneStream(host, port, seconds)));
  const bytes = reports.reduce((sum, r) => sum + r.bytes, 0);
  const gbitPerSecond = reports.reduce((sum, r) => sum + (r.bytes * 8) / r.seconds / 1e9, 0);
  return { streams, seconds, bytes, gbitPerSecond };
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export async function requestResponseTest(host: string, port: number, seconds: number): Promise<RequestResponseResult> {
  const socket = await connected(host, port, 5000);
  socket.setNoDelay(true);
  const rtts: number[] = [];
  const started = process.hrtime.bigint();
  const until = started + BigInt(Math.round(seconds * 1e9));
  await new Promise<void>((resolve, reject) => {
    let sent = process.hrtime.bigint();
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      const now = process.hrtime.bigint();
      // One byte answers one request; a coalesced chunk (never expected with one in flight) counts once each.
      for (let i = 0; i < chunk.length; i++) rtts.push(Number(now - sent) / 1e3);
      if (now >= until) {
        socket.end();
        resolve();
        return;
      }
      sent = process.hrtime.bigint();
      socket.write(Buffer.of(1));
    });
    socket.write(Buffer.of(requestResponseMode, 1));
  });
  socket.destroy();
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = Float64Array.from(rtts).sort();
  if (sorted.length === 0) throw new Error('no request was answered');
  return { seconds: elapsed, transactions: sorted.length, perSecond: sorted.length / elapsed, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) };
}
