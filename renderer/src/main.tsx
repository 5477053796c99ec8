import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { App } from './App.tsx';
import { connectBackend } from './api/connect-backend.ts';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App backend={connectBackend()} />
  </StrictMode>,
);
