import { describe, expect, it, vi } from 'vitest';
import { createDispatcher, eventFrame } from './dispatcher.ts';
import { createConsoleClient, type ClientTransport } from './client.ts';
import { createFrameClient } from './frame-client.ts';
import { ConsoleError } from './errors.ts';
import type { NotificationHandlers, RequestHandlers } from './console-contract.ts';

function handlers(overrides: Partial<RequestHandlers> = {}): RequestHandlers {
  const unused = async () => {
    throw new Error('not used in this test');
  };
  return {
    'app.info': async () => ({ version: '0.1.0', knownHostsPath: '/tmp/known_hosts', platform: 'linux' }),
    'contexts.list': unused,
    'contexts.connect': unused,
    'nodes.list': unused,
    'nodes.add': async (p) => ({ id: 'n1', name: p.name ?? p.host, host: p.host, port: p.port, user: p.user }),
    'nodes.remove': unused,
    'ssh.connect': unused,
    'ssh.trustHostKey': unused,
    'ssh.disconnect': unused,
    'terminal.open': unused,
    'terminal.close': unused,
    'capture.start': unused,
    'capture.stop': unused,
    'capture.discard': unused,
    'capture.packet': unused,
    'capture.export': unused,
    'capture.flowStart': unused,
    'capture.flowStop': unused,
    'capture.flowDiscard': unused,
    'capture.flowReport': unused,
    'capture.flowExport': unused,
    'agent.artifact': unused,
    'agent.install': unused,
    'agent.uninstall': unused,
    'cluster.overview': unused,
    'node.routes': unused,
    'node.peers': unused,
    'ippools.list': unused,
    'ippools.save': unused,
    'ippools.dryRun': unused,
    'ippools.delete': unused,
    'ippools.preview': unused,
    'ippools.convergence': unused,
    'doctor.trace': unused,
    'doctor.pairs': unused,
    'doctor.scan': unused,
    'doctor.fix': unused,
    'doctor.bundle': unused,
    'measure.run': unused,
    'measure.history': unused,
    'nodeStatus.subscribe': unused,
    'nodeStatus.unsubscribe': unused,
    'connectivity.matrix': unused,
    'routingConfig.list': unused,
    'routingConfig.validate': unused,
    'routingConfig.dryRun': unused,
    'routingConfig.apply': unused,
    'switch.plan': unused,
    'switch.run': unused,
    'migration.plan': unused,
    'migration.run': unused,
    'reflectors.advice': unused,
    'reflectors.migrate': unused,
    ...overrides,
  };
}

const noNotifications: NotificationHandlers = {
  'terminal.input': () => undefined,
  'terminal.resize': () => undefined,
  'terminal.ack': () => undefined,
  'capture.ack': () => undefined,
};

describe('dispatcher', () => {
  it('refuses a method that is not in the contract', async () => {
    const outcome = await createDispatcher(handlers(), noNotifications).request('fs.readFile', { path: '/etc/shadow' });
    expect(outcome).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
  });

  it('refuses parameters that break the contract before the handler runs', async () => {
    const add = vi.fn();
    const dispatcher = createDispatcher(handlers({ 'nodes.add': add }), noNotifications);
    const outcome = await dispatcher.request('nodes.add', { host: 'evil host', port: 70000 });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.error.code).toBe('invalid-request');
      expect(outcome.error.message).toMatch(/host/);
      expect(outcome.error.message).toMatch(/port/);
    }
    expect(add).not.toHaveBeenCalled();
  });

  it('refuses an answer that breaks the contract instead of passing it on', async () => {
    const dispatcher = createDispatcher(
      handlers({ 'app.info': async () => ({ version: 1 }) as never }),
      noNotifications,
    );
    expect(await dispatcher.request('app.info', {})).toMatchObject({ ok: false, error: { code: 'invalid-response' } });
  });

  it('carries a ConsoleError code and details across', async () => {
    const dispatcher = createDispatcher(
      handlers({
        'ssh.connect': async () => {
          throw new ConsoleError('host-key-changed', 'The host key changed.', { expected: 'SHA256:a', presented: 'SHA256:b' });
        },
      }),
      noNotifications,
    );
    expect(await dispatcher.request('ssh.connect', { nodeId: 'n1' })).toEqual({
      ok: false,
      error: { code: 'host-key-changed', message: 'The host key changed.', details: { expected: 'SHA256:a', presented: 'SHA256:b' } },
    });
  });

  it('drops an invalid notification and says why', () => {
    const input = vi.fn();
    const dispatcher = createDispatcher(handlers(), { ...noNotifications, 'terminal.input': input });
    expect(dispatcher.notify('terminal.input', { terminalId: '', data: 'ls\n' })?.code).toBe('invalid-request');
    expect(dispatcher.notify('terminal.input', { terminalId: 't1', data: 'ls\n' })).toBeUndefined();
    expect(input).toHaveBeenCalledWith({ terminalId: 't1', data: 'ls\n' });
  });

  it('rejects a malformed frame', async () => {
    await expect(createDispatcher(handlers(), noNotifications).frame({ kind: 'request', method: 'app.info' })).rejects.toThrow(/Malformed/);
  });

  it('refuses to emit an event that breaks the contract', () => {
    expect(() => eventFrame('terminal.data', { terminalId: 't', data: 'x', bytes: -1 })).toThrow(/Invalid terminal.data/);
    expect(eventFrame('terminal.data', { terminalId: 't', data: 'x', bytes: 1 })).toEqual({
      kind: 'event',
      event: 'terminal.data',
      payload: { terminalId: 't', data: 'x', bytes: 1 },
    });
  });
});

describe('client over frames, end to end through the dispatcher', () => {
  function wire(requestHandlers: RequestHandlers) {
    const dispatcher = createDispatcher(requestHandlers, noNotifications);
    const client = createFrameClient(
      (frame) => {
        // JSON both ways, as on the WebSocket.
        void dispatcher.frame(JSON.parse(JSON.stringify(frame))).then((response) => {
          if (response) client.receive(JSON.parse(JSON.stringify(response)));
        });
      },
      (fn, ms) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      },
    );
    return { client, api: createConsoleClient(client) };
  }

  it('returns typed results and rethrows typed errors', async () => {
    const { api } = wire(
      handlers({
        'ssh.connect': async () => {
          throw new ConsoleError('ssh-unreachable', 'No route to 10.9.9.9.');
        },
      }),
    );
    expect(await api.request('nodes.add', { host: '10.0.0.1', user: 'root' })).toEqual({ id: 'n1', name: '10.0.0.1', host: '10.0.0.1', user: 'root' });
    const error = await api.request('ssh.connect', { nodeId: 'n1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsoleError);
    expect((error as ConsoleError).code).toBe('ssh-unreachable');
  });

  it('checks parameters on the renderer side too', async () => {
    const { api } = wire(handlers());
    await expect(api.request('nodes.add', { host: '' })).rejects.toMatchObject({ code: 'invalid-request' });
  });

  it('delivers valid events and drops invalid ones', () => {
    const listeners = new Set<(e: string, p: unknown) => void>();
    const transport: ClientTransport = {
      request: async () => undefined,
      notify: () => undefined,
      onEvent(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const emit = (e: string, p: unknown) => listeners.forEach((l) => l(e, p));
    const problems: string[] = [];
    const api = createConsoleClient(transport, (p) => problems.push(p));
    const seen: unknown[] = [];
    api.on('ssh.status', (payload) => seen.push(payload));
    emit('ssh.status', { nodeId: 'n1', state: 'disconnected', reason: 'keepalive timeout' });
    emit('ssh.status', { nodeId: 'n1', state: 'exploded' });
    emit('shell.exec', {});
    expect(seen).toEqual([{ nodeId: 'n1', state: 'disconnected', reason: 'keepalive timeout' }]);
    expect(problems).toHaveLength(2);
  });

  it('fails pending requests when the transport closes, so nothing waits forever', async () => {
    const client = createFrameClient(() => undefined, (fn, ms) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    });
    const api = createConsoleClient(client);
    const pending = api.request('app.info', {});
    client.closed('The console backend stopped.');
    await expect(pending).rejects.toMatchObject({ code: 'transport-closed', message: 'The console backend stopped.' });
  });
});
