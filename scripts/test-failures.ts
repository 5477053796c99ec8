// What failed in a tier, read from vitest's JSON report: `npm test` prints it again at its very end,
// because a CI log is often read from its tail, where the failing tier's own summary has long
// scrolled away behind the tiers that ran after it.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface JsonReport {
  testResults: Array<{
    name: string;
    status: string;
    message?: string;
    assertionResults: Array<{ fullName: string; status: string; failureMessages?: string[] }>;
  }>;
}

const firstLine = (text: string) => text.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 300) ?? '';

/** One line per failed test (or per file that failed outside its tests, such as in a hook). */
export function failedTests(reportJson: string, root: string): string[] {
  const report = JSON.parse(reportJson) as JsonReport;
  const out: string[] = [];
  for (const file of report.testResults) {
    const name = relative(root, file.name);
    const failed = file.assertionResults.filter((a) => a.status === 'failed');
    for (const a of failed) out.push(`${name} > ${a.fullName}: ${firstLine(a.failureMessages?.[0] ?? '')}`);
    if (file.status === 'failed' && (failed.length === 0 || file.message)) out.push(`${name}: ${firstLine(file.message ?? 'failed outside its tests')}`);
  }
  return out;
}

/** The failed tests of the report at `path`, or a line saying there is no report to read. */
export function failedTestsIn(path: string, root: string): string[] {
  if (!existsSync(path)) return [`(no test report at ${path}: vitest did not get as far as writing one)`];
  try {
    return failedTests(readFileSync(path, 'utf8'), root);
  } catch (error) {
    return [`(the test report at ${path} cannot be read: ${(error as Error).message})`];
  }
}
