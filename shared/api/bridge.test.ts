// The Electron path without Electron: a bridge shaped as the preload exposes it, with structured
// clones where IPC would clone, in front of the same dispatcher that main installs. The renderer's
// client sees the same answers, errors and events as over the WebSocket.
import { describe, expect, it } from 'vitest';
import type { ConsoleBridge } from './bridge.ts';
import { createConsoleClient } from './client.ts';
import type { EventEmitter, NotificationHandlers, RequestHandlers } from './console-contract.ts';
import { createDispatcher, eventFrame } from './dispatcher.ts';
import { ConsoleError } from './errors.ts';
import { isNotificationMethod, isRequestMethod } from './console-contract.ts';

function fakeElectron(makeHandlers: (emit: EventEmitter) => { handlers: RequestHandlers; notifications: NotificationHandlers }): ConsoleBridge {
  const listeners = new Set<(event: string, payload: unknown) => void>();
  // main: webContents.send(channel, event, payload)
  const emit: EventEmitter = (event, payload) => {
    const frame = eventFrame(event, payload);
    const [name, cloned] = structuredClone([frame.event, frame.payload]);
    for (const listener of listeners) listener(name, cloned);
  };
  const { handlers, notifications } = makeHandlers(emit);
  const dispatcher = createDispatcher(handlers, notifications);
  // preload: the allow-list check, then ipcRenderer.invoke / send
  return {
    request: async (method, params) =>
      isRequestMethod(method)
        ? structuredClone(await dispatcher.request(method, structuredClone(params)))
        : { ok: false, error: { code: 'invalid-request', message: `Unknown request ${method}.` } },
    notify: (method, params) => {
      if (isNotificationMethod(method)) dispatcher.notify(method, structuredClone(params));
    },
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

describe('the console client over an Electron-shaped bridge', () => {
  it('gets answers, typed errors and events exactly as over the WebSocket', async () => {
    const typed: string[] = [];
    const bridge = fakeElectron((emit) => ({
      handlers: {
        'app.info': async () => ({ version: '1.2.3', knownHostsPath: '/k', platform: 'linux' }),
        'ssh.connect': async ({ nodeId }: { nodeId: string }) => {
          throw new ConsoleError('host-key-changed', `changed for ${nodeId}`, { presented: 'SHA256:x' });
        },
      } as Partial<RequestHandlers> as RequestHandlers, // only what this test calls
      notifications: {
        'terminal.input': ({ terminalId, data }) => {
          typed.push(data);
          emit('terminal.data', { terminalId, data: `echo:${data}`, bytes: 5 + data.length });
        },
        'terminal.resize': () => undefined,
        'terminal.ack': () => undefined,
        'capture.ack': () => undefined,
      },
    }));
    const client = createConsoleClient(bridge);
    expect(await client.request('app.info', {})).toEqual({ version: '1.2.3', knownHostsPath: '/k', platform: 'linux' });
    await expect(client.request('ssh.connect', { nodeId: 'n1' })).rejects.toMatchObject({ code: 'host-key-changed', details: { presented: 'SHA256:x' } });
    const seen: string[] = [];
    client.on('terminal.data', (e) => seen.push(e.data));
    client.notify('terminal.input', { terminalId: 't1', data: 'ls' });
    expect(typed).toEqual(['ls']);
    expect(seen).toEqual(['echo:ls']);
  });

  it('refuses, in the preload already, a method that is not in the contract', async () => {
    const bridge = fakeElectron(() => ({ handlers: {} as RequestHandlers, notifications: {} as NotificationHandlers }));
    expect(await bridge.request('shell.openExternal', { url: 'file:///etc/passwd' })).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
  });
});
