// `npm run console:web`: builds the renderer, starts the backend and serves both on 127.0.0.1,
// then prints the URL to open (it carries this launch's access token).
import { ConsoleBackend } from '../backend/console-backend.ts';
import { buildRenderer } from './build-renderer.ts';
import { startWebServer } from './web-server.ts';

const port = Number(process.env.GINGHAM_WEB_PORT ?? 0);
console.log('Building the console…');
const rendererDir = await buildRenderer({ quiet: true });
const backend = new ConsoleBackend();
const server = await startWebServer({ backend, rendererDir, port, log: (m) => console.warn(m) });
console.log(`\nGingham console (web mode) is ready. Open:\n\n  ${server.url}\n\nThe link works for this launch only. Ctrl+C stops the console.`);

const stop = async () => {
  backend.close();
  await server.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
