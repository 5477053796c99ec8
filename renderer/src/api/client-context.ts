import { createContext, useContext } from 'react';
import type { ConsoleClient } from '../../../shared/api/client.ts';

export const ClientContext = createContext<ConsoleClient | undefined>(undefined);

export function useClient(): ConsoleClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside ClientContext');
  return client;
}

/** A thrown value as a sentence for the user. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
