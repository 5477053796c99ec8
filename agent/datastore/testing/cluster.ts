// Moved to lab/testing/test-cluster.ts (the one test bed); this re-export is for test files written
// against the old path while that change landed, and goes once none imports it.
export * from '../../../lab/testing/test-cluster.ts';
