// Finds the backend: the Electron bridge when the preload script provided one, else the WebSocket
// of web mode, authenticated by the per-launch token that the launch URL carries in its fragment
// (a fragment never reaches a server log or a Referer header).
import { bridgeGlobal, type ConsoleBridge } from '../../../shared/api/bridge.ts';
import { createConsoleClient, type ConsoleClient } from '../../../shared/api/client.ts';
import { createFrameClient } from '../../../shared/api/frame-client.ts';

const tokenKey = 'gingham.token';

function webToken(): string | undefined {
  const fromUrl = new URLSearchParams(window.location.hash.replace(/^#/, '')).get('token');
  if (fromUrl) {
    sessionStorage.setItem(tokenKey, fromUrl);
    // Keep the token out of the address bar, bookmarks and screenshots.
    // No section in the address: the app opens on its default (the lab's Nodes when there is a lab, else Clusters).
    history.replaceState(null, '', window.location.pathname);
    return fromUrl;
  }
  return sessionStorage.getItem(tokenKey) ?? undefined;
}

const schedule = (fn: () => void, ms: number) => {
  const timer = window.setTimeout(fn, ms);
  return () => window.clearTimeout(timer);
};

function connectWebSocket(token: string): ConsoleClient {
  const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/api?token=${encodeURIComponent(token)}`;
  const socket = new WebSocket(url);
  const queue: string[] = [];
  const frames = createFrameClient((frame) => {
    const text = JSON.stringify(frame);
    if (socket.readyState === WebSocket.OPEN) socket.send(text);
    else queue.push(text);
  }, schedule);
  let opened = false;
  socket.addEventListener('open', () => {
    opened = true;
    for (const text of queue.splice(0)) socket.send(text);
  });
  socket.addEventListener('message', (message) => {
    try {
      frames.receive(JSON.parse(String(message.data)));
    } catch {
      // not JSON: not from our backend; ignore
    }
  });
  socket.addEventListener('close', () => {
    frames.closed(
      opened
        ? 'The console backend stopped. Start it again and open the URL it prints.'
        : // Refused at the door: most often a token from an earlier launch, or the backend is not running.
          'The console backend did not let this page in. Open the URL that this launch of `npm run console:web` printed: its token changes every launch.',
    );
  });
  return createConsoleClient(frames, (problem) => console.warn('Dropped an event that breaks the contract:', problem));
}

export type Backend = { client: ConsoleClient; transport: 'electron' | 'web' } | { error: string };

export function connectBackend(): Backend {
  const bridge = (window as unknown as Record<string, ConsoleBridge | undefined>)[bridgeGlobal];
  if (bridge) return { client: createConsoleClient(bridge), transport: 'electron' };
  const token = webToken();
  if (!token) {
    return { error: 'This page has no access token. Open the URL that `npm run console:web` printed; it ends with #token=…' };
  }
  return { client: connectWebSocket(token), transport: 'web' };
}
