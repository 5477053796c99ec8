// The console API over Electron IPC: three allow-listed channels, each message validated by the
// same dispatcher as the WebSocket uses, and only from the app's own pages. Each window is one
// client of the backend: its terminals close when it does.
import { ipcMain, type IpcMainEvent, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { ipcChannels } from '../../shared/api/bridge.ts';
import { createDispatcher, eventFrame, type Dispatcher } from '../../shared/api/dispatcher.ts';
import type { ConsoleBackend } from '../backend/console-backend.ts';
import { appOrigin } from './app-protocol.ts';

export function installIpcBridge(backend: ConsoleBackend): void {
  const clients = new Map<number, Dispatcher>();

  const dispatcherFor = (contents: WebContents): Dispatcher => {
    const existing = clients.get(contents.id);
    if (existing) return existing;
    const client = backend.attach((event, payload) => {
      if (contents.isDestroyed()) return;
      const frame = eventFrame(event, payload);
      contents.send(ipcChannels.event, frame.event, frame.payload);
    });
    const dispatcher = createDispatcher(client.handlers, client.notifications);
    clients.set(contents.id, dispatcher);
    contents.once('destroyed', () => {
      clients.delete(contents.id);
      client.detach();
    });
    return dispatcher;
  };

  // Only the app's own top-level page may use the API, never a frame or a page navigated elsewhere.
  const trusted = (event: IpcMainEvent | IpcMainInvokeEvent): boolean => {
    const frame = event.senderFrame;
    return frame !== null && frame.parent === null && new URL(frame.url).origin === appOrigin;
  };

  ipcMain.handle(ipcChannels.request, async (event, method: unknown, params: unknown) => {
    if (!trusted(event)) return { ok: false, error: { code: 'invalid-request', message: 'This page may not use the console API.' } };
    return dispatcherFor(event.sender).request(method, params);
  });
  ipcMain.on(ipcChannels.notify, (event, method: unknown, params: unknown) => {
    if (trusted(event)) dispatcherFor(event.sender).notify(method, params);
  });
}
