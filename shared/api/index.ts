export * from './console-contract.ts';
export * from './envelope.ts';
export * from './errors.ts';
export * from './dispatcher.ts';
export * from './client.ts';
export * from './frame-client.ts';
export * from './utf8-chunks.ts';
export * from './flow-control.ts';
