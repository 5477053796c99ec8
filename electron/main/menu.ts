// The application menu, in the shape each platform's users expect (the app menu on macOS).
import { app, Menu, shell, type MenuItemConstructorOptions } from 'electron';

/** `documentation`: the console guide on disk (a checkout has docs/console.md), if there is one. */
export function installMenu(options: { isDevelopment: boolean; documentation?: string }): void {
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    { label: '&File', submenu: [isMac ? { role: 'close' } : { role: 'quit' }] },
    { role: 'editMenu' },
    {
      label: '&View',
      submenu: [
        { role: 'reload' },
        ...(options.isDevelopment ? [{ role: 'toggleDevTools' as const }] : []),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [
        ...(options.documentation ? [{ label: 'Console guide', click: () => void shell.openPath(options.documentation!) }] : []),
        ...(isMac ? [] : [{ label: `About ${app.getName()}`, click: () => app.showAboutPanel() }]),
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
