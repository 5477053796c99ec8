// The path measurements kept per cluster: a JSON file per kubeconfig context in the console's
// folder, the last 200 runs. A file the console cannot read (cut short, edited by hand) is moved
// aside, never overwritten, and the admin is told where it went.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { measureRunSchema, type MeasureRun } from '../../../shared/api/measure-contract.ts';

const runsSchema = measureRunSchema.array();
/** Enough to compare modes and days, small enough to read at once. */
const keptRuns = 200;

export class MeasureHistory {
  constructor(private readonly dir: string) {}

  private file(context: string): string {
    return path.join(this.dir, `${encodeURIComponent(context)}.json`);
  }

  /** The runs kept for `context`, oldest first; throws (having moved the file aside) when it cannot be read. */
  read(context: string): MeasureRun[] {
    const file = this.file(context);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return []; // no run kept yet
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const parsed = runsSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    let aside = `${file}.unreadable-${Date.now()}`;
    for (let n = 1; existsSync(aside); n++) aside = `${file}.unreadable-${Date.now()}-${n}`;
    renameSync(file, aside);
    throw new ConsoleError('invalid-field', `The measurements kept for ${context} could not be read; the file was moved to ${aside} (nothing in it was deleted) and a new history starts.`);
  }

  append(context: string, run: MeasureRun): void {
    mkdirSync(this.dir, { recursive: true });
    let before: MeasureRun[] = [];
    try {
      before = this.read(context);
    } catch {
      // Moved aside by read(): this run starts a new file.
    }
    const file = this.file(context);
    writeFileSync(`${file}.tmp`, JSON.stringify([...before, run].slice(-keptRuns), null, 1));
    renameSync(`${file}.tmp`, file);
  }
}
