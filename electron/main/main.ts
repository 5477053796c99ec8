// The Electron main process: one instance, one window restored where the user left it, the app's
// pages served under a strict CSP, and the console backend reached through the IPC bridge.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog } from 'electron';
import { ConsoleBackend } from '../backend/console-backend.ts';
import { appOrigin, registerAppScheme, serveRenderer } from './app-protocol.ts';
import { installIpcBridge } from './ipc-bridge.ts';
import { installMenu } from './menu.ts';
import { restoredBounds, trackWindowState } from './window-state.ts';
import { installWebContentsPolicy } from './web-contents-policy.ts';

// The bundle lives in out/main/; the renderer and the preload script are built beside it.
const rendererDir = fileURLToPath(new URL('../renderer', import.meta.url));
const preloadScript = fileURLToPath(new URL('../preload/preload.cjs', import.meta.url));
const isDevelopment = !app.isPackaged;
const guide = fileURLToPath(new URL('../../docs/console.md', import.meta.url));
// The agent the installer uploads: in a checkout, what `npm run build:agent` left in out/agent; in
// a packaged app, the copy electron-builder put among its resources (extraResources).
const agentArtifact = process.env.GINGHAM_AGENT_ARTIFACT ?? (app.isPackaged ? path.join(process.resourcesPath, 'agent') : fileURLToPath(new URL('../agent', import.meta.url)));

// Run from a checkout (`npm start` runs out/main/main.js), Electron finds no package.json beside
// the script and would call the app "Electron", keeping its files in ~/.config/Electron.
app.setName('Gingham');
const version = app.isPackaged ? app.getVersion() : (process.env.GINGHAM_APP_VERSION ?? app.getVersion());

let mainWindow: BrowserWindow | undefined;

function createWindow(): BrowserWindow {
  const { maximized, ...bounds } = restoredBounds();
  const window = new BrowserWindow({
    ...bounds,
    minWidth: 800,
    minHeight: 500,
    title: 'Gingham',
    show: false,
    webPreferences: {
      preload: preloadScript,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  if (maximized) window.maximize();
  trackWindowState(window);
  window.once('ready-to-show', () => window.show());
  void window.loadURL(`${appOrigin}/index.html#/clusters`);
  return window;
}

if (!app.requestSingleInstanceLock()) {
  // Another instance owns the window: it is told (second-instance) and brings itself forward.
  app.quit();
} else {
  // Every renderer sandboxed, whatever a future window forgets to ask for.
  app.enableSandbox();
  registerAppScheme();
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  void app.whenReady().then(() => {
    const backend = new ConsoleBackend({
      configDir: app.getPath('userData'),
      version,
      installer: { artifactDir: agentArtifact },
      // Capture exports go through the save dialog here; in web mode the browser downloads them.
      capture: {
        chooseExportPath: async (defaultName) => {
          const options = { defaultPath: defaultName, filters: [{ name: 'Packet captures', extensions: ['pcapng', 'pcap'] }] };
          const chosen = mainWindow ? await dialog.showSaveDialog(mainWindow, options) : await dialog.showSaveDialog(options);
          return chosen.canceled ? undefined : chosen.filePath;
        },
      },
    });
    serveRenderer(rendererDir);
    installWebContentsPolicy();
    installIpcBridge(backend);
    installMenu({ isDevelopment, ...(existsSync(guide) ? { documentation: guide } : {}) });
    mainWindow = createWindow();
    mainWindow.on('closed', () => (mainWindow = undefined));

    app.on('activate', () => {
      // macOS: clicking the dock icon with no window open opens one.
      if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
    });
    app.on('before-quit', () => backend.close());
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}
