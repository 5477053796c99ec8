// Validation errors that name the field, say what is wrong and what is allowed. Every resource
// parser in shared/model throws ValidationError, so the agent, the console's forms and the CLI
// show the same words.
import type { z } from 'zod';

export interface FieldIssue {
  /** Dotted path to the field, such as `spec.blockSize` or `spec.allowedUses[1]`. */
  path: string;
  message: string;
}

export class ValidationError extends Error {
  constructor(
    /** What was being validated, such as `IPPool "default-ipv4-ippool"`. */
    readonly subject: string,
    readonly issues: FieldIssue[],
  ) {
    super(`${subject} is invalid:\n${issues.map((i) => `  ${i.path || '(top level)'}: ${i.message}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}

const typeNames: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
};

/** Words for zod's issues, in the form "what is allowed (got what)". */
export const errorMap: z.core.$ZodErrorMap = (issue) => {
  const got = `(got ${describe(issue.input)})`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${typeNames[issue.expected] ?? issue.expected} ${got}`;
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `must have at least ${String(issue.minimum)} ${issue.origin === 'array' ? 'items' : 'characters'}`
        : `must be at least ${String(issue.minimum)} ${got}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `must have at most ${String(issue.maximum)} ${issue.origin === 'array' ? 'items' : 'characters'}`
        : `must be at most ${String(issue.maximum)} ${got}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} ${got}`;
    case 'invalid_format':
      return `is not valid ${got}`;
    default:
      return undefined;
  }
};

/** Parses `input` with `schema`; throws ValidationError naming `subject` and each bad field. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, subject: string): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true, error: errorMap });
  if (result.success) return result.data;
  throw new ValidationError(
    subject,
    result.error.issues.map((issue) => ({ path: fieldPath(issue.path), message: issue.message })),
  );
}

/** Records a rule violation on a field from inside a zod superRefine. */
export function addIssue(ctx: z.RefinementCtx, path: PropertyKey[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}
