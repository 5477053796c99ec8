import { createContext, useContext } from 'react';
import type { ConsoleClient } from '../../../shared/api/client.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';

export const ClientContext = createContext<ConsoleClient | undefined>(undefined);

export function useClient(): ConsoleClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside ClientContext');
  return client;
}

/** True when the error is the lost backend itself, which the app's banner already reports. */
export function isTransportLoss(error: unknown): boolean {
  return error instanceof ConsoleError && error.code === 'transport-closed';
}

/** A thrown value as a sentence for the user. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
