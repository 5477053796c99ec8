// The benchmarks' command lines, read by node:util's parseArgs: an option a benchmark does not
// have, or a number that is not one, stops it at once with its usage line, rather than a run of
// minutes with the default (a mistyped --rounds used to be ignored).
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>>;

export interface BenchArgs<T extends Options> {
  values: Parsed<T>['values'];
  positionals: string[];
  /** An option's number, or (given an index) a positional argument's. */
  number(name: (keyof T & string) | number): number;
  /** A comma-separated list of numbers. */
  numbers(name: keyof T & string): number[];
}

function usageError(message: string, usage: string): never {
  console.error(`${message}\nusage: ${usage}`);
  process.exit(2);
}

/** The options of `argv` (the command line by default); positionals only where `positionals` says how many may come. */
export function benchArgs<const T extends Options>(options: T, usage: string, config: { positionals?: number; argv?: string[] } = {}): BenchArgs<T> {
  try {
    const parsed = parseArgs({ args: config.argv ?? process.argv.slice(2), options, strict: true, allowPositionals: true });
    const text = (name: string) => (parsed.values as Record<string, unknown>)[name] as string;
    if (parsed.positionals.length > (config.positionals ?? 0)) usageError(`unexpected argument ${parsed.positionals.join(' ')}`, usage);
    const number = (name: (keyof T & string) | number): number =>
      typeof name === 'number' ? toNumber('argument', parsed.positionals[name] ?? '', usage) : toNumber(`--${name}`, text(name), usage);
    const numbers = (name: keyof T & string): number[] => text(name).split(',').map((text) => toNumber(`--${name}`, text, usage));
    return { values: parsed.values, positionals: parsed.positionals, number, numbers };
  } catch (error) {
    usageError((error as Error).message, usage);
  }
}

function toNumber(name: string, text: string, usage: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) usageError(`${name}: ${text || 'nothing'} is not a number`, usage);
  return value;
}
