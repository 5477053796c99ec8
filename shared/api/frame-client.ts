// Request/response correlation for transports that carry frames (the WebSocket): numbers each
// request, matches answers to them, and fails every pending request when the line goes down so
// that no caller waits forever.
import { EventFrame, ResponseFrame, type ClientFrame } from './envelope.ts';
import type { ClientTransport } from './client.ts';

export interface FrameClient extends ClientTransport {
  /** Feed one frame received from the backend (already JSON-parsed). */
  receive(raw: unknown): void;
  /** The line is down: fail what is pending and tell the close listeners. */
  closed(reason: string): void;
}

/** Runs `fn` after `ms` and returns a cancel function; passed in because shared/ has no timers of its own. */
export type Schedule = (fn: () => void, ms: number) => () => void;

export function createFrameClient(send: (frame: ClientFrame) => void, schedule: Schedule, requestTimeoutMs = 60_000): FrameClient {
  let nextId = 1;
  let closedReason: string | undefined;
  const pending = new Map<number, { resolve: (value: unknown) => void; cancel: () => void }>();
  const eventListeners = new Set<(event: string, payload: unknown) => void>();
  const closeListeners = new Set<(reason: string) => void>();

  const failure = (message: string) => ({ ok: false, error: { code: 'transport-closed', message } });

  return {
    request(method, params) {
      if (closedReason !== undefined) return Promise.resolve(failure(closedReason));
      const id = nextId++;
      return new Promise((resolve) => {
        const cancel = schedule(() => {
          pending.delete(id);
          resolve({ ok: false, error: { code: 'internal', message: `The backend did not answer ${method} within ${requestTimeoutMs / 1000} s.` } });
        }, requestTimeoutMs);
        pending.set(id, { resolve, cancel });
        send({ kind: 'request', id, method, params });
      });
    },
    notify(method, params) {
      if (closedReason === undefined) send({ kind: 'notify', method, params });
    },
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    receive(raw) {
      const response = ResponseFrame.safeParse(raw);
      if (response.success) {
        const entry = pending.get(response.data.id);
        if (!entry) return;
        pending.delete(response.data.id);
        entry.cancel();
        entry.resolve(response.data);
        return;
      }
      const event = EventFrame.safeParse(raw);
      if (event.success) for (const listener of eventListeners) listener(event.data.event, event.data.payload);
    },
    closed(reason) {
      if (closedReason !== undefined) return;
      closedReason = reason;
      for (const [id, entry] of pending) {
        entry.cancel();
        entry.resolve(failure(reason));
        pending.delete(id);
      }
      for (const listener of closeListeners) listener(reason);
    },
  };
}
