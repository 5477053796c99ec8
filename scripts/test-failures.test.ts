import { describe, expect, it } from 'vitest';
import { failedTests } from './test-failures.ts';

// The shape vitest 4's JSON reporter writes, taken from a real run of one failing test and one
// failing hook.
const report = JSON.stringify({
  testResults: [
    { name: '/repo/a.test.ts', status: 'failed', message: '', assertionResults: [
      { fullName: 'passes', status: 'passed', failureMessages: [] },
      { fullName: 'suite fails here', status: 'failed', failureMessages: ['AssertionError: expected 1 to be 2 // Object.is equality\n    at /repo/a.test.ts:3:30'] },
    ] },
    { name: '/repo/b.test.ts', status: 'failed', message: 'hook broke', assertionResults: [{ fullName: 'never', status: 'skipped', failureMessages: [] }] },
    { name: '/repo/c.test.ts', status: 'passed', message: '', assertionResults: [{ fullName: 'fine', status: 'passed', failureMessages: [] }] },
  ],
});

describe('failedTests', () => {
  it('names each failed test with its first error line, and a file that failed in a hook', () => {
    expect(failedTests(report, '/repo')).toEqual([
      'a.test.ts > suite fails here: AssertionError: expected 1 to be 2 // Object.is equality',
      'b.test.ts: hook broke',
    ]);
  });

  it('finds nothing in a passing run', () => {
    expect(failedTests(JSON.stringify({ testResults: [] }), '/repo')).toEqual([]);
  });
});
