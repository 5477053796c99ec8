// `npm run -s decode -- FILE [--json]`: one line per packet of a pcap or pcapng file, the same
// summaries the Captures view shows, as `tcpdump -r` prints its own. --json prints one object
// per line with the columns and the decoded numbers, for scripts and tests.
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { CaptureReader, type CapturedPacket } from '../shared/packets/capture-reader.ts';
import { dissect, PacketFacts } from '../shared/packets/dissect.ts';
import { packetRecord } from '../shared/packets/packet-record.ts';
import { SummaryBytes } from '../shared/packets/summary-bytes.ts';

const usage = 'usage: npm run -s decode -- FILE.pcap|FILE.pcapng [--json]\n';
let parsed;
try {
  parsed = parseArgs({ options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
} catch (error) {
  process.stderr.write(`decode: ${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (parsed.positionals.length !== 1) {
  process.stderr.write(usage);
  process.exit(2);
}
const json = parsed.values.json;
const file = parsed.positionals[0]!;

const reader = new CaptureReader();
const facts = new PacketFacts();
// Summary lines are written as bytes straight into the output (summary-bytes.ts: the text of
// summary.ts without a string per packet); --json lines go into a byte buffer too.
const lines = new SummaryBytes(1 << 20);
let out = Buffer.allocUnsafe(1 << 20);
let used = 0;
let number = 0;
const emit = (line: string) => {
  if (used + line.length * 3 + 1 > out.length) flush(true);
  used += out.write(line, used, 'utf8');
  out[used++] = 10;
};
const flush = (force: boolean) => {
  if (lines.length > (1 << 20) - (1 << 16) || (force && lines.length > 0)) process.stdout.write(lines.take());
  if (used > out.length - (1 << 16) || (force && used > 0)) {
    process.stdout.write(out.subarray(0, used));
    out = Buffer.allocUnsafe(1 << 20);
    used = 0;
  }
};
const onPacket = (p: CapturedPacket) => {
  number++;
  dissect(p.bytes, p.offset, p.caplen, p.origLen, p.linkType, facts);
  if (json) emit(JSON.stringify(packetRecord(number, p, facts)));
  else lines.line(facts, p.tsSec, p.tsNsec);
};

// Output to a closed pipe (`| head`) is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const input = createReadStream(file, { highWaterMark: 1 << 22 });
input.on('error', (error) => {
  process.stderr.write(`decode: cannot read ${file}: ${error.message}\n`);
  process.exit(1);
});
input.on('data', (chunk) => {
  reader.push(chunk as Buffer, onPacket);
  flush(false);
  if (reader.error) {
    flush(true);
    process.stderr.write(`decode: ${file}: ${reader.error}\n`);
    process.exit(1);
  }
});
input.on('end', () => {
  flush(true);
  if (reader.format === undefined) {
    process.stderr.write(`decode: ${file}: too short to be a pcap or pcapng file.\n`);
    process.exit(1);
  }
  if (reader.heldBytes > 0) process.stderr.write(`decode: ${file}: the last ${reader.heldBytes} bytes are a cut-off record (the capture was interrupted).\n`);
});
