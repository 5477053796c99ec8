// The renderer's side of the boundary: a typed client over any transport. Parameters are checked
// before they leave and answers and events are checked when they arrive, so the renderer never
// works on data the contract does not promise.
import { z } from 'zod';
import {
  events,
  isEventName,
  notifications,
  requests,
  type EventName,
  type EventPayload,
  type NotificationMethod,
  type NotificationParams,
  type RequestMethod,
  type RequestParams,
  type RequestResult,
} from './console-contract.ts';
import { ConsoleError } from './errors.ts';
import type { Outcome } from './dispatcher.ts';

/** What a transport must do; the IPC bridge and the WebSocket both provide exactly this. */
export interface ClientTransport {
  request(method: string, params: unknown): Promise<unknown>;
  notify(method: string, params: unknown): void;
  onEvent(listener: (event: string, payload: unknown) => void): () => void;
  /** Called when the transport is lost for good (the backend went away). */
  onClose?(listener: (reason: string) => void): () => void;
}

const OutcomeShape = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.string()).optional() }),
  }),
]);

export interface ConsoleClient {
  request<M extends RequestMethod>(method: M, params: RequestParams<M>): Promise<RequestResult<M>>;
  notify<M extends NotificationMethod>(method: M, params: NotificationParams<M>): void;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  onClose(listener: (reason: string) => void): () => void;
}

export function createConsoleClient(transport: ClientTransport, onInvalidEvent?: (problem: string) => void): ConsoleClient {
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();

  transport.onEvent((event, payload) => {
    if (!isEventName(event)) {
      onInvalidEvent?.(`unknown event ${event}`);
      return;
    }
    const parsed = events[event].safeParse(payload);
    if (!parsed.success) {
      onInvalidEvent?.(`invalid ${event}: ${parsed.error.message}`);
      return;
    }
    for (const listener of listeners.get(event) ?? []) listener(parsed.data);
  });

  return {
    async request(method, params) {
      const spec = requests[method];
      const checkedParams = spec.params.safeParse(params);
      if (!checkedParams.success) {
        throw new ConsoleError('invalid-request', checkedParams.error.issues.map((i) => i.message).join('; '));
      }
      const raw = await transport.request(method, checkedParams.data);
      const outcome = OutcomeShape.safeParse(raw);
      if (!outcome.success) throw new ConsoleError('invalid-response', `The backend's answer to ${method} is malformed.`);
      const answer = outcome.data as Outcome;
      if (!answer.ok) throw ConsoleError.fromShape(answer.error);
      const result = spec.result.safeParse(answer.result);
      if (!result.success) throw new ConsoleError('invalid-response', `The backend's answer to ${method} does not match the contract.`);
      return result.data as RequestResult<typeof method>;
    },
    notify(method, params) {
      const checked = notifications[method].safeParse(params);
      if (!checked.success) throw new ConsoleError('invalid-request', checked.error.issues.map((i) => i.message).join('; '));
      transport.notify(method, checked.data);
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const wrapped = listener as (payload: unknown) => void;
      set.add(wrapped);
      return () => set.delete(wrapped);
    },
    onClose(listener) {
      return transport.onClose?.(listener) ?? (() => undefined);
    },
  };
}
