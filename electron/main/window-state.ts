// Remembers where the user left the window (position, size, maximized) and restores it, unless
// the display it was on is gone, in which case the window opens centred on the primary display.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { app, screen, type BrowserWindow, type Rectangle } from 'electron';
import { z } from 'zod';

const Saved = z.object({ x: z.number(), y: z.number(), width: z.number().min(400), height: z.number().min(300), maximized: z.boolean() });
type Saved = z.infer<typeof Saved>;

const file = () => join(app.getPath('userData'), 'window-state.json');
const defaults = { width: 1280, height: 820 };

function visible(bounds: Rectangle): boolean {
  // At least a corner of the title bar must be on some display, or the user cannot grab the window.
  return screen.getAllDisplays().some(({ workArea: a }) => bounds.x + 100 > a.x && bounds.x < a.x + a.width - 100 && bounds.y >= a.y && bounds.y < a.y + a.height - 50);
}

export function restoredBounds(): Partial<Rectangle> & { width: number; height: number; maximized: boolean } {
  try {
    const saved = Saved.parse(JSON.parse(readFileSync(file(), 'utf8')));
    if (visible(saved)) return saved;
    return { width: saved.width, height: saved.height, maximized: saved.maximized };
  } catch {
    return { ...defaults, maximized: false };
  }
}

export function trackWindowState(window: BrowserWindow): void {
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    if (window.isDestroyed()) return;
    const bounds = window.getNormalBounds();
    const state: Saved = { ...bounds, maximized: window.isMaximized() };
    try {
      writeFileSync(file(), JSON.stringify(state));
    } catch {
      // losing the window position is not worth bothering the user about
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(save, 500);
  };
  window.on('resize', later);
  window.on('move', later);
  window.on('close', () => {
    clearTimeout(timer);
    save();
  });
}
