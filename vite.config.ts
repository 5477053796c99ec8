// The renderer's build: one config for the Electron window and for web mode. Relative asset paths
// (`base: './'`) so that the same build loads from file:// in Electron and from the web server.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./out/renderer', import.meta.url)),
    emptyOutDir: true,
    // No inline scripts or eval: the strict CSP (script-src 'self') forbids them.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
    // One bundle is fine for a desktop app loaded from disk or loopback.
    chunkSizeWarningLimit: 2048,
  },
});
