export * from './desired.ts';
export * from './plan.ts';
