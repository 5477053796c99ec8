// One entry point for a whole framed message: header checks, then the body decoder of its type.
import { MessageType } from './constants.ts';
import { type Decoded, fail, ok } from './errors.ts';
import { checkHeader, isHeader } from './header.ts';
import { type OpenMessage, decodeOpenBody } from './open.ts';
import {
  type NotificationMessage, type RouteRefreshMessage, decodeNotificationBody, decodeRouteRefreshBody,
} from './simple-messages.ts';
import { type DecodedUpdate, type UpdateContext, decodeUpdateBody } from './update.ts';

export type BgpMessage =
  | { type: typeof MessageType.Open; open: OpenMessage }
  | { type: typeof MessageType.Update; update: DecodedUpdate }
  | { type: typeof MessageType.Notification; notification: NotificationMessage }
  | { type: typeof MessageType.Keepalive }
  | { type: typeof MessageType.RouteRefresh; routeRefresh: RouteRefreshMessage };

export interface DecodeOptions extends UpdateContext {
  maxLength: number;
}

/** Decodes exactly one message; `msg` holds it whole (the framer cut it out using the header length). */
export function decodeMessage(msg: Buffer, options: DecodeOptions): Decoded<BgpMessage> {
  if (msg.length < 19) return checkHeaderOnShortInput(msg, options.maxLength);
  const header = checkHeader(msg, 0, options.maxLength);
  if (!isHeader(header)) return fail(header);
  if (msg.length < header.length) {
    return fail({ code: 1, subcode: 2, data: Buffer.from(msg.subarray(16, 18)), reason: `the header says ${header.length} octets but only ${msg.length} arrived` });
  }
  const body = msg.subarray(19, header.length);
  switch (header.type) {
    case MessageType.Open: {
      const r = decodeOpenBody(body);
      return r.ok ? ok({ type: MessageType.Open, open: r.value }) : r;
    }
    case MessageType.Update: {
      const r = decodeUpdateBody(body, options);
      return r.ok ? ok({ type: MessageType.Update, update: r.value }) : r;
    }
    case MessageType.Notification:
      return ok({ type: MessageType.Notification, notification: decodeNotificationBody(body) });
    case MessageType.Keepalive:
      return ok({ type: MessageType.Keepalive });
    default: {
      const r = decodeRouteRefreshBody(body, msg.subarray(0, header.length));
      return r.ok ? ok({ type: MessageType.RouteRefresh, routeRefresh: r.value }) : r;
    }
  }
}

function checkHeaderOnShortInput(msg: Buffer, maxLength: number): Decoded<BgpMessage> {
  const padded = Buffer.alloc(19);
  msg.copy(padded);
  const header = checkHeader(padded, 0, maxLength);
  if (!isHeader(header)) return fail(header);
  // The header claims at least 19 octets but fewer arrived: a framing bug, reported as a bad length.
  return fail({ code: 1, subcode: 2, data: padded.subarray(16, 18), reason: `only ${msg.length} octets for a message` });
}
