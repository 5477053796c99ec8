// The Electron bridge's shape: what the preload script exposes to the renderer through
// contextBridge, and the only IPC channels it uses. The renderer wraps it with createConsoleClient,
// exactly as it wraps the WebSocket, so it cannot tell the two apart.

/** The global the preload script defines in the renderer's main world. */
export const bridgeGlobal = 'ginghamConsole';

/** The only IPC channels the console uses; main and preload refuse every other. */
export const ipcChannels = {
  request: 'gingham:console:request',
  notify: 'gingham:console:notify',
  event: 'gingham:console:event',
} as const;

export interface ConsoleBridge {
  /** Resolves to an Outcome ({ ok, result } or { ok: false, error }); never rejects for backend errors. */
  request(method: string, params: unknown): Promise<unknown>;
  notify(method: string, params: unknown): void;
  onEvent(listener: (event: string, payload: unknown) => void): () => void;
}
