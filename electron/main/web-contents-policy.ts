// What pages inside the app may do: nothing beyond showing the console. Links to the web open in
// the user's browser; navigation away from the app, new windows, webviews and permission
// requests (camera, notifications ...) are refused.
import { app, session, shell } from 'electron';
import { appOrigin } from './app-protocol.ts';

function openInBrowser(url: string): void {
  // Only web links: never file:, smb: or custom schemes that could launch local programs.
  if (/^https?:\/\//i.test(url)) void shell.openExternal(url);
}

export function installWebContentsPolicy(): void {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(({ url }) => {
      openInBrowser(url);
      return { action: 'deny' };
    });
    contents.on('will-navigate', (event, url) => {
      if (new URL(url).origin === appOrigin) return;
      event.preventDefault();
      openInBrowser(url);
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}
