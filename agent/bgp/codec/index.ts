// The BGP wire codec: pure functions over Buffers, no sockets, no tables (GoBGP's pkg/packet/bgp).
export * from './constants.ts';
export * from './errors.ts';
export * from './header.ts';
export * from './open.ts';
export * from './simple-messages.ts';
export * from './update.ts';
export * from './message.ts';
