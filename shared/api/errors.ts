// Errors that cross the console API. Each carries a stable code that the renderer can act on
// and a message written for the user: what happened and what to do next.
import { z } from 'zod';

export const errorCodes = [
  'invalid-request',
  'invalid-response',
  'not-found',
  'kubeconfig-unreadable',
  'context-not-found',
  'cluster-unreachable',
  'cluster-timeout',
  'cluster-tls',
  'credentials-rejected',
  'exec-plugin-failed',
  'host-key-changed',
  'host-key-prompt-expired',
  'ssh-auth-failed',
  'ssh-unreachable',
  'ssh-timeout',
  'ssh-key-unreadable',
  'ssh-config',
  'ssh-disconnected',
  'transport-closed',
  /** Someone changed the object since it was read: details.current holds the newer one (JSON). */
  'conflict',
  'invalid-field',
  'internal',
] as const;

export const ErrorCode = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ApiErrorShape = z.object({
  code: ErrorCode,
  message: z.string(),
  /** Facts the UI may show beside the message, e.g. the expected and the presented fingerprint. */
  details: z.record(z.string(), z.string()).optional(),
});
export type ApiErrorShape = z.infer<typeof ApiErrorShape>;

/** An error with a code, thrown by the backend and re-created on the renderer's side. */
export class ConsoleError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, string>) {
    super(message);
    this.name = 'ConsoleError';
    this.code = code;
    this.details = details;
  }

  toShape(): ApiErrorShape {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }

  static fromShape(shape: ApiErrorShape): ConsoleError {
    return new ConsoleError(shape.code, shape.message, shape.details);
  }
}

/** Any thrown value as a shape fit for the wire; unexpected errors keep their message but get the code `internal`. */
export function toErrorShape(error: unknown): ApiErrorShape {
  if (error instanceof ConsoleError) return error.toShape();
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message };
}
