// What the user is shown about a host key: its algorithm and its SHA-256 fingerprint, in the
// exact form `ssh-keygen -lf` and OpenSSH's own prompt print, so that the two can be compared.
import { createHash } from 'node:crypto';

/** The algorithm name at the start of an SSH public key blob (RFC 4253 §6.6: a length-prefixed string). */
export function keyAlgorithm(blob: Buffer): string {
  if (blob.length < 4) throw new Error('The host key is too short to be an SSH public key.');
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) throw new Error('The host key does not start with an algorithm name.');
  return blob.subarray(4, 4 + length).toString('ascii');
}

/** `SHA256:` and the unpadded base64 of the blob's SHA-256, as OpenSSH prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
