// Validates objects against a CustomResourceDefinition the way kube-apiserver does it, for the
// unit tier: the OpenAPI v3 schema (with defaulting) through Ajv, and the CEL rules in
// x-kubernetes-validations through a CEL evaluator. The integration tier checks the same CRDs
// against a real kube-apiserver; this lets the model be compared with Calico's published CRDs
// on every `npm test`, in milliseconds.
import { Ajv, type ValidateFunction } from 'ajv';
import { evaluate } from '@marcbachmann/cel-js';

type Schema = { [key: string]: unknown };
interface Rule {
  rule: string;
  message?: string;
}

export interface CrdCheck {
  errors: string[];
  /** CEL rules evaluated, and rules this evaluator cannot run (Kubernetes-only CEL libraries). */
  evaluatedRules: number;
  unsupportedRules: string[];
}

/** Kubernetes' CIDR format: net.ParseCIDR, which accepts host bits. */
const cidrFormat = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/;

/** Kubernetes patterns are Go RE2; the one RE2 feature Calico's CRDs use that JS lacks is (?i). */
const re2: ((pattern: string, flags: string) => RegExp) & { code: string } = Object.assign(
  (pattern: string, flags: string) =>
    pattern.includes('(?i)') ? new RegExp(pattern.replace('(?i)', ''), flags + 'i') : new RegExp(pattern, flags),
  { code: 'RE2-subset' },
);

function toCel(value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(toCel);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  return value;
}

function runRules(schema: Schema, value: unknown, old: unknown, path: string, check: CrdCheck): void {
  if (value === undefined || value === null) return;
  for (const rule of (schema['x-kubernetes-validations'] as Rule[] | undefined) ?? []) {
    if (rule.rule.includes('oldSelf') && old === undefined) continue; // transition rules apply to updates only
    let ok: unknown;
    try {
      ok = evaluate(rule.rule, { self: toCel(value), oldSelf: toCel(old) });
    } catch (error) {
      check.unsupportedRules.push(`${path}: ${rule.rule} (${(error as Error).message.split('\n')[0]})`);
      continue;
    }
    check.evaluatedRules++;
    if (ok !== true) check.errors.push(`${path || '(root)'}: ${rule.message ?? rule.rule}`);
  }
  const properties = schema.properties as Record<string, Schema> | undefined;
  if (properties && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(properties)) {
      const oldChild = old && typeof old === 'object' ? (old as Record<string, unknown>)[key] : undefined;
      runRules(child, (value as Record<string, unknown>)[key], oldChild, path ? `${path}.${key}` : key, check);
    }
  }
  const items = schema.items as Schema | undefined;
  if (items && Array.isArray(value)) value.forEach((item, i) => runRules(items, item, undefined, `${path}[${i}]`, check));
}

export class CrdValidator {
  private readonly validate: ValidateFunction;
  private readonly schema: Schema;

  constructor(crd: Schema) {
    const versions = (crd.spec as { versions: Array<{ schema: { openAPIV3Schema: Schema } }> }).versions;
    this.schema = versions[0]!.schema.openAPIV3Schema;
    const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, code: { regExp: re2 } });
    ajv.addFormat('cidr', cidrFormat);
    for (const format of ['int32', 'int64', 'date-time', 'ip', 'uri']) ajv.addFormat(format, () => true);
    this.validate = ajv.compile(this.schema);
  }

  /** Checks a create (or, with `previous`, an update), as the API server would. */
  check(object: unknown, previous?: unknown): CrdCheck {
    const copy = structuredClone(object); // defaulting writes into it
    const check: CrdCheck = { errors: [], evaluatedRules: 0, unsupportedRules: [] };
    if (!this.validate(copy)) {
      for (const error of this.validate.errors ?? []) check.errors.push(`${error.instancePath || '(root)'}: ${error.message}`);
      return check;
    }
    runRules(this.schema, copy, previous === undefined ? undefined : structuredClone(previous), '', check);
    return check;
  }
}
