export * from './bgp-wanted.ts';
export * from './desired.ts';
export * from './desired-state.ts';
export * from './plan.ts';
export * from './mode-switch.ts';
