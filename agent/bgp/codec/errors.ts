// Decoding errors are values, never exceptions: a malformed message from a peer is an ordinary
// input, and the answer to it (a NOTIFICATION with code, subcode and data) is part of the result.
import { notificationName } from './constants.ts';

export interface BgpError {
  readonly code: number;
  readonly subcode: number;
  /** The NOTIFICATION's data field, as RFC 4271 section 6 prescribes for each error. */
  readonly data: Buffer;
  /** What was wrong, for logs and `status`. */
  readonly reason: string;
}

export function bgpError(code: number, subcode: number, reason: string, data: Buffer = Buffer.alloc(0)): BgpError {
  return { code, subcode, data, reason };
}

export function describeError(error: BgpError): string {
  return `${notificationName(error.code, error.subcode)}: ${error.reason}`;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: BgpError };

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function fail<T>(error: BgpError): Decoded<T> {
  return { ok: false, error };
}
