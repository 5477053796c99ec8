// A BGP peer written out message by message, for tests that must send what no real daemon would
// (malformed messages) or control timing exactly (connection collisions).
import { type Server, type Socket, connect, createServer } from 'node:net';
import { MessageType } from '../codec/constants.ts';
import { frame } from '../codec/header.ts';
import { encodeOpen, localCapabilities } from '../codec/open.ts';
import { encodeKeepalive } from '../codec/simple-messages.ts';
import { parseIPv4 } from '../../../shared/net/index.ts';

export interface RawMessage {
  type: number;
  body: Buffer;
}

export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static dial(host: string, port: number, localAddress: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port, localAddress });
      s.once('connect', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  send(buf: Buffer): void {
    this.socket.write(buf);
  }

  sendOpen(routerId: string, asn = 64512, holdTime = 90): void {
    this.send(encodeOpen({ version: 4, myAs: asn, holdTime, routerId: parseIPv4(routerId), capabilities: localCapabilities({ asn }), otherParameters: [] }));
  }

  sendKeepalive(): void {
    this.send(encodeKeepalive());
  }

  /** The next message, or undefined when the connection closes first. */
  async next(timeoutMs = 10_000): Promise<RawMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffer.length >= 19) {
        const length = this.buffer.readUInt16BE(16);
        if (this.buffer.length >= length) {
          const msg = { type: this.buffer[18]!, body: Buffer.from(this.buffer.subarray(19, length)) };
          this.buffer = this.buffer.subarray(length);
          return msg;
        }
      }
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no BGP message within the time allowed');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Reads until a message of `type` arrives (skipping KEEPALIVEs and UPDATEs). */
  async expect(type: number, timeoutMs = 10_000): Promise<RawMessage> {
    for (;;) {
      const m = await this.next(timeoutMs);
      if (!m) throw new Error(`connection closed while waiting for message type ${type}`);
      if (m.type === type) return m;
      if (m.type === MessageType.Notification) throw new Error(`got NOTIFICATION ${m.body[0]}/${m.body[1]} while waiting for message type ${type}`);
    }
  }

  /** Completes the OPEN exchange up to Established. */
  async establish(routerId: string): Promise<void> {
    this.sendOpen(routerId);
    await this.expect(MessageType.Open);
    this.sendKeepalive();
    await this.expect(MessageType.Keepalive);
  }

  /** Waits for a NOTIFICATION, skipping other messages; returns [code, subcode, data]. */
  async notification(timeoutMs = 10_000): Promise<[number, number, Buffer]> {
    const m = await this.expect(MessageType.Notification, timeoutMs).catch((e: Error) => { throw e; });
    return [m.body[0]!, m.body[1]!, m.body.subarray(2)];
  }

  close(): void {
    this.socket.destroy();
  }
}

export function rawFrame(type: number, body: number[] | Buffer): Buffer {
  return frame(type, Buffer.from(body));
}

/** Listens for one speaker's outgoing connections. */
export function rawListener(host: string, port: number): Promise<{ server: Server; accepted: () => Promise<RawConnection> }> {
  return new Promise((resolve, reject) => {
    const queue: RawConnection[] = [];
    const waiting: Array<(c: RawConnection) => void> = [];
    const server = createServer((s) => {
      const c = new RawConnection(s);
      const w = waiting.shift();
      if (w) w(c); else queue.push(c);
    });
    server.once('error', reject);
    server.listen({ host, port }, () => resolve({
      server,
      accepted: () => new Promise((res) => { const c = queue.shift(); if (c) res(c); else waiting.push(res); }),
    }));
  });
}
