// The sandboxed preload: exposes exactly the console bridge to the page, through contextBridge,
// over the three allow-listed channels. Unknown methods are refused here already, so that a
// compromised page cannot even reach main with them.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { bridgeGlobal, ipcChannels, type ConsoleBridge } from '../../shared/api/bridge.ts';
import { isNotificationMethod, isRequestMethod } from '../../shared/api/console-contract.ts';

const bridge: ConsoleBridge = {
  request(method, params) {
    if (!isRequestMethod(method)) return Promise.resolve({ ok: false, error: { code: 'invalid-request', message: `Unknown request ${method}.` } });
    return ipcRenderer.invoke(ipcChannels.request, method, params);
  },
  notify(method, params) {
    if (isNotificationMethod(method)) ipcRenderer.send(ipcChannels.notify, method, params);
  },
  onEvent(listener) {
    const handler = (_event: IpcRendererEvent, name: unknown, payload: unknown) => {
      if (typeof name === 'string') listener(name, payload);
    };
    ipcRenderer.on(ipcChannels.event, handler);
    return () => {
      ipcRenderer.removeListener(ipcChannels.event, handler);
    };
  },
};

contextBridge.exposeInMainWorld(bridgeGlobal, bridge);
