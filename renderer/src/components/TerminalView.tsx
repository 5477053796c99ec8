// xterm.js on a node's shell. Output is written as it arrives and acknowledged once xterm.js has
// processed it (its write callback), which is what lets the backend's flow control pace a flood
// to what this view can draw. Input, resizes and acks go back as one-way messages.
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import type { SshNode } from '../../../shared/api/console-contract.ts';
import { messageOf, useClient } from '../api/client-context.ts';

const screenReaderKey = 'gingham.terminal.screenReader';

export function TerminalView({ node }: { node: SshNode }) {
  const client = useClient();
  const host = useRef<HTMLDivElement>(null);
  const terminal = useRef<Terminal | undefined>(undefined);
  // xterm.js's screen-reader mode keeps an accessible copy of the rows (a list) and announces new
  // output. It costs: a flood draws about six times slower with it. So it is the user's choice,
  // remembered, as VS Code makes it (a page cannot detect a screen reader).
  const [screenReader, setScreenReader] = useState(() => localStorage.getItem(screenReaderKey) === 'on');
  const [status, setStatus] = useState('Opening a shell…');
  const [ended, setEnded] = useState<string | undefined>();

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const term = new Terminal({ screenReaderMode: localStorage.getItem(screenReaderKey) === 'on', cursorBlink: true, fontSize: 14, scrollback: 5000 });
    terminal.current = term;
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element);
    fit.fit();

    let terminalId: string | undefined;
    let disposed = false;
    // Output may arrive before the open request's answer names the terminal: keep it until then.
    const early: Array<{ terminalId: string; data: string; bytes: number }> = [];
    const write = (data: string, bytes: number) => term.write(data, () => client.notify('terminal.ack', { terminalId: terminalId!, bytes }));
    const stopData = client.on('terminal.data', (event) => {
      if (terminalId === undefined) early.push(event);
      else if (event.terminalId === terminalId) write(event.data, event.bytes);
    });
    const stopExit = client.on('terminal.exit', (event) => {
      if (event.terminalId !== terminalId) return;
      setEnded(event.reason);
      setStatus(`Shell ended: ${event.reason}`);
      term.write(`\r\n\x1b[2m[${event.reason}]\x1b[0m\r\n`);
    });

    client.request('terminal.open', { nodeId: node.id, cols: term.cols, rows: term.rows }).then(
      (opened) => {
        if (disposed) {
          void client.request('terminal.close', { terminalId: opened.terminalId });
          return;
        }
        terminalId = opened.terminalId;
        for (const event of early.splice(0)) if (event.terminalId === terminalId) write(event.data, event.bytes);
        setStatus(`Shell open on ${node.name}.`);
        term.focus();
      },
      (error: unknown) => setStatus(`Cannot open a shell on ${node.name}: ${messageOf(error)}`),
    );

    const input = term.onData((data) => {
      if (terminalId) client.notify('terminal.input', { terminalId, data });
    });
    const resized = term.onResize(({ cols, rows }) => {
      if (terminalId) client.notify('terminal.resize', { terminalId, cols: Math.max(2, cols), rows: Math.max(1, rows) });
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(element);

    return () => {
      disposed = true;
      observer.disconnect();
      input.dispose();
      resized.dispose();
      stopData();
      stopExit();
      if (terminalId) void client.request('terminal.close', { terminalId }).catch(() => undefined);
      terminal.current = undefined;
      term.dispose();
    };
  }, [client, node]);

  const toggleScreenReader = (on: boolean) => {
    setScreenReader(on);
    localStorage.setItem(screenReaderKey, on ? 'on' : 'off');
    if (terminal.current) terminal.current.options.screenReaderMode = on;
  };

  return (
    <section className="terminal" aria-label={`Terminal on ${node.name}`}>
      <div className="terminal-bar">
        <p role="status" className={ended ? 'error' : undefined}>
          {status}
        </p>
        <label className="check">
          <input type="checkbox" checked={screenReader} onChange={(e) => toggleScreenReader(e.target.checked)} />
          Screen reader mode
        </label>
      </div>
      <div ref={host} className="terminal-host" />
    </section>
  );
}
