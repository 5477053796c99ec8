// The frames both transports carry. The WebSocket sends them as JSON text; Electron IPC passes
// them as structured clones. Either way the receiver parses them with these schemas first.
import { z } from 'zod';
import { ApiErrorShape } from './errors.ts';

export const RequestFrame = z.object({
  kind: z.literal('request'),
  id: z.number().int().min(0),
  method: z.string().max(64),
  params: z.unknown(),
});
export type RequestFrame = z.infer<typeof RequestFrame>;

export const NotificationFrame = z.object({
  kind: z.literal('notify'),
  method: z.string().max(64),
  params: z.unknown(),
});
export type NotificationFrame = z.infer<typeof NotificationFrame>;

export const ClientFrame = z.discriminatedUnion('kind', [RequestFrame, NotificationFrame]);
export type ClientFrame = z.infer<typeof ClientFrame>;

export const ResponseFrame = z.discriminatedUnion('ok', [
  z.object({ kind: z.literal('response'), id: z.number().int().min(0), ok: z.literal(true), result: z.unknown() }),
  z.object({ kind: z.literal('response'), id: z.number().int().min(0), ok: z.literal(false), error: ApiErrorShape }),
]);
export type ResponseFrame = z.infer<typeof ResponseFrame>;

export const EventFrame = z.object({ kind: z.literal('event'), event: z.string().max(64), payload: z.unknown() });
export type EventFrame = z.infer<typeof EventFrame>;

export const ServerFrame = z.union([ResponseFrame, EventFrame]);
export type ServerFrame = z.infer<typeof ServerFrame>;
