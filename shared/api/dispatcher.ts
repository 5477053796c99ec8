// The backend's side of the boundary: every incoming request and notification is checked against
// the contract before a handler sees it, and every answer and event is checked before it leaves,
// so that a bug on either side shows up as a clear error rather than as a half-drawn screen.
import {
  events,
  isEventName,
  isNotificationMethod,
  isRequestMethod,
  notifications,
  requests,
  type EventName,
  type EventPayload,
  type NotificationHandlers,
  type RequestHandlers,
} from './console-contract.ts';
import { ClientFrame, type EventFrame, type ResponseFrame } from './envelope.ts';
import { ConsoleError, toErrorShape, type ApiErrorShape } from './errors.ts';
import { errorMap } from '../model/validation.ts';

export type Outcome = { ok: true; result: unknown } | { ok: false; error: ApiErrorShape };

export interface Dispatcher {
  /** Validates and runs one request; never throws. */
  request(method: unknown, params: unknown): Promise<Outcome>;
  /** Validates and runs one notification; returns the reason when it was rejected. */
  notify(method: unknown, params: unknown): ApiErrorShape | undefined;
  /** A raw frame from a transport that carries frames (WebSocket): the response to send, if any. */
  frame(raw: unknown): Promise<ResponseFrame | undefined>;
}

function describeIssues(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`).join('; ');
}

export function createDispatcher(handlers: RequestHandlers, notificationHandlers: NotificationHandlers): Dispatcher {
  async function request(method: unknown, params: unknown): Promise<Outcome> {
    if (!isRequestMethod(method)) {
      return { ok: false, error: { code: 'invalid-request', message: `Unknown request ${JSON.stringify(method)}.` } };
    }
    const spec = requests[method];
    // The model's words for each field ("is required", "must be a number (got \"22\")"), not zod's.
    const parsed = spec.params.safeParse(params ?? {}, { reportInput: true, error: errorMap });
    if (!parsed.success) {
      return { ok: false, error: { code: 'invalid-request', message: `Invalid ${method} request: ${describeIssues(parsed.error)}` } };
    }
    try {
      const handler = handlers[method] as (p: unknown) => Promise<unknown>;
      const result = await handler(parsed.data);
      const checked = spec.result.safeParse(result);
      if (!checked.success) {
        return { ok: false, error: { code: 'invalid-response', message: `The backend answered ${method} wrongly: ${describeIssues(checked.error)}` } };
      }
      return { ok: true, result: checked.data };
    } catch (error) {
      return { ok: false, error: toErrorShape(error) };
    }
  }

  function notify(method: unknown, params: unknown): ApiErrorShape | undefined {
    if (!isNotificationMethod(method)) return { code: 'invalid-request', message: `Unknown notification ${JSON.stringify(method)}.` };
    const parsed = notifications[method].safeParse(params);
    if (!parsed.success) return { code: 'invalid-request', message: `Invalid ${method}: ${describeIssues(parsed.error)}` };
    try {
      (notificationHandlers[method] as (p: unknown) => void)(parsed.data);
      return undefined;
    } catch (error) {
      return toErrorShape(error);
    }
  }

  async function frame(raw: unknown): Promise<ResponseFrame | undefined> {
    const parsed = ClientFrame.safeParse(raw);
    if (!parsed.success) throw new ConsoleError('invalid-request', `Malformed frame: ${describeIssues(parsed.error)}`);
    const message = parsed.data;
    if (message.kind === 'notify') {
      notify(message.method, message.params);
      return undefined;
    }
    const outcome = await request(message.method, message.params);
    return outcome.ok
      ? { kind: 'response', id: message.id, ok: true, result: outcome.result }
      : { kind: 'response', id: message.id, ok: false, error: outcome.error };
  }

  return { request, notify, frame };
}

/** An outgoing event, checked against the contract; throws on a backend bug rather than sending garbage. */
export function eventFrame<E extends EventName>(event: E, payload: EventPayload<E>): EventFrame {
  if (!isEventName(event)) throw new ConsoleError('internal', `Unknown event ${String(event)}.`);
  const parsed = events[event].safeParse(payload);
  if (!parsed.success) throw new ConsoleError('internal', `Invalid ${event} event: ${describeIssues(parsed.error)}`);
  return { kind: 'event', event, payload: parsed.data };
}
