// The 19-octet message header (RFC 4271 4.1): marker, length, type. Framing a TCP byte stream into
// messages starts here, so every check that can fail before the body is read lives here too.
import { ErrorCode, HEADER_LENGTH, HeaderSubcode, MessageType } from './constants.ts';
import { type BgpError, bgpError } from './errors.ts';

const MARKER = Buffer.alloc(16, 0xff);

/** Wraps a message body in a header. */
export function frame(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  MARKER.copy(out, 0);
  out.writeUInt16BE(HEADER_LENGTH + body.length, 16);
  out[18] = type;
  body.copy(out, HEADER_LENGTH);
  return out;
}

/** The least and (where fixed) the most length each type may have, header included. */
const lengthBounds: Record<number, [number, number?]> = {
  [MessageType.Open]: [29],
  [MessageType.Update]: [23],
  [MessageType.Notification]: [21],
  [MessageType.Keepalive]: [19, 19],
  [MessageType.RouteRefresh]: [23],
};

export interface Header {
  length: number;
  type: number;
}

/**
 * Checks the header at `offset` (at least 19 octets must be available). `maxLength` is 4096, or
 * 65535 once extended messages are negotiated.
 */
export function checkHeader(buf: Buffer, offset: number, maxLength: number): Header | BgpError {
  for (let i = 0; i < 16; i++) {
    if (buf[offset + i] !== 0xff) return bgpError(ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized, 'the marker is not all ones');
  }
  const length = buf.readUInt16BE(offset + 16);
  const type = buf[offset + 18]!;
  const lengthData = buf.subarray(offset + 16, offset + 18);
  if (length < HEADER_LENGTH || length > maxLength) {
    return bgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `length ${length} is outside 19..${maxLength}`, Buffer.from(lengthData));
  }
  const bounds = lengthBounds[type];
  if (!bounds) return bgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageType, `unknown message type ${type}`, Buffer.from([type]));
  if (length < bounds[0] || (bounds[1] !== undefined && length > bounds[1])) {
    return bgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `length ${length} is wrong for message type ${type}`, Buffer.from(lengthData));
  }
  return { length, type };
}

export function isHeader(value: Header | BgpError): value is Header {
  return 'type' in value;
}
