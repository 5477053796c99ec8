// The small messages: KEEPALIVE, NOTIFICATION (RFC 4271 4.4, 4.5) and ROUTE-REFRESH (RFC 2918, 7313).
import { ErrorCode, MessageType, RouteRefreshErrorSubcode } from './constants.ts';
import { type Decoded, bgpError, fail, ok } from './errors.ts';
import { frame } from './header.ts';

export interface NotificationMessage {
  code: number;
  subcode: number;
  data: Buffer;
}

export interface RouteRefreshMessage {
  afi: number;
  safi: number;
  subtype: number;
}

const KEEPALIVE = frame(MessageType.Keepalive, Buffer.alloc(0));

export function encodeKeepalive(): Buffer {
  return KEEPALIVE;
}

export function encodeNotification(n: NotificationMessage): Buffer {
  return frame(MessageType.Notification, Buffer.concat([Buffer.from([n.code, n.subcode]), n.data]));
}

export function decodeNotificationBody(body: Buffer): NotificationMessage {
  // Length >= 21 is checked with the header, so code and subcode are present.
  return { code: body[0]!, subcode: body[1]!, data: Buffer.from(body.subarray(2)) };
}

export function encodeRouteRefresh(r: RouteRefreshMessage): Buffer {
  return frame(MessageType.RouteRefresh, Buffer.from([r.afi >> 8, r.afi & 255, r.subtype, r.safi]));
}

/** `whole` is the entire message: RFC 7313 puts it in the error's data. */
export function decodeRouteRefreshBody(body: Buffer, whole: Buffer): Decoded<RouteRefreshMessage> {
  if (body.length !== 4) {
    return fail(bgpError(ErrorCode.RouteRefreshMessage, RouteRefreshErrorSubcode.InvalidMessageLength,
      `a ROUTE-REFRESH is 23 octets long, this one ${whole.length}`, Buffer.from(whole)));
  }
  return ok({ afi: body.readUInt16BE(0), subtype: body[2]!, safi: body[3]! });
}
