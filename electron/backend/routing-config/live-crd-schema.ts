// An object checked against the cluster's own CRD, read live from the API server
// (apiextensions.k8s.io/v1, the served version's openAPIV3Schema), before anything is sent: a
// cluster on a newer or older Calico is judged by its own schema, not by the one Gingham ships.
// The schema's rules run through Ajv; fields the schema does not know are named too, because the
// API server would silently drop them (a typo such as `ipipmode` would otherwise vanish on Apply).
// CEL rules (x-kubernetes-validations) are left to the server's dry run, which always follows.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { SchemaIssue } from '../../../shared/api/routing-config-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { pluralOfCalicoKind, type CalicoKind } from '../../../shared/model/calico-kinds.ts';

type Schema = { [key: string]: unknown };

export const calicoGroup = 'crd.projectcalico.org';
export const calicoVersion = 'v1';

/** Kubernetes' patterns are Go RE2; the one RE2 feature Calico's CRDs use that JavaScript lacks is (?i). */
const re2: ((pattern: string, flags: string) => RegExp) & { code: string } = Object.assign(
  (pattern: string, flags: string) => (pattern.includes('(?i)') ? new RegExp(pattern.replace('(?i)', ''), `${flags}i`) : new RegExp(pattern, flags)),
  { code: 'RE2-subset' },
);

/** Formats the API server does not check for CRDs are accepted as they are; the dry run has the final word. */
const acceptedFormats = ['int32', 'int64', 'date-time', 'ip', 'uri', 'byte', 'cidr', 'duration', 'int-or-string'];

function ajv(): Ajv {
  const instance = new Ajv({ strict: false, allErrors: true, code: { regExp: re2 } });
  for (const format of acceptedFormats) instance.addFormat(format, () => true);
  return instance;
}

function issueOf(error: ErrorObject): SchemaIssue {
  const path = error.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(the object)';
  const allowed = error.keyword === 'enum' ? ` (${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})` : '';
  return { path, message: `${error.message ?? error.keyword}${allowed}` };
}

/** Fields the schema does not declare, where it would prune them (no preserve-unknown-fields, no additionalProperties). */
function unknownFields(schema: Schema, value: unknown, path: string, issues: SchemaIssue[]): void {
  if (!value || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const items = schema.items as Schema | undefined;
    if (items) value.forEach((item, i) => unknownFields(items, item, `${path}[${i}]`, issues));
    return;
  }
  const properties = schema.properties as Record<string, Schema> | undefined;
  if (schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties !== undefined) return;
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const declared = properties?.[key];
    if (!declared) {
      if (properties) issues.push({ path: at, message: `not a field of this kind (known here: ${Object.keys(properties).sort().join(', ')}); the API server would drop it` });
      continue;
    }
    unknownFields(declared, child, at, issues);
  }
}

export class LiveCrdSchema {
  private readonly validate: ValidateFunction;

  constructor(
    readonly crd: string,
    readonly version: string,
    private readonly schema: Schema,
  ) {
    this.validate = ajv().compile(schema);
  }

  /** Issues of a whole object ({apiVersion, kind, metadata, spec}); empty when the schema accepts it. */
  check(object: Schema): SchemaIssue[] {
    const issues: SchemaIssue[] = [];
    if (!this.validate(structuredClone(object))) issues.push(...(this.validate.errors ?? []).map(issueOf));
    const spec = (this.schema.properties as Record<string, Schema> | undefined)?.spec;
    if (spec) unknownFields(spec, object.spec, 'spec', issues);
    return issues;
  }
}

const cache = new Map<string, LiveCrdSchema>();

interface RawCrd {
  metadata: { resourceVersion?: string };
  spec: { versions: Array<{ name: string; served: boolean; storage: boolean; schema?: { openAPIV3Schema?: Schema } }> };
}

/**
 * The CRD as the API server sends it. Read raw (not through the client's typed model, which
 * renames `enum`, `default` and the x-kubernetes keywords), so Ajv sees the schema as written.
 */
async function readCrd(config: KubeConfig, name: string): Promise<{ status: number; body: string }> {
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new ConsoleError('context-not-found', 'The kubeconfig has no cluster for its current context: pick a context with a cluster (Clusters).');
  const url = new URL(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, server);
  const options: Parameters<KubeConfig['applyToHTTPSOptions']>[0] & { headers: Record<string, string> } = { method: 'GET', headers: { accept: 'application/json' } };
  await config.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(url, options as object, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`reading CRD ${name} took over 15 s`)));
    req.end();
  });
}

/** The kind's CRD as the cluster serves it now; compiled once per CRD resourceVersion. */
export async function liveCrdSchema(config: KubeConfig, kind: CalicoKind): Promise<LiveCrdSchema> {
  const crdName = `${pluralOfCalicoKind(kind)}.${calicoGroup}`;
  const answer = await readCrd(config, crdName);
  if (answer.status === 404) throw new ConsoleError('not-found', `The cluster has no CRD ${crdName}: install Calico's CRDs (or let the Gingham installer add them) before editing ${kind} objects.`);
  if (answer.status !== 200) throw Object.assign(new Error(`reading CRD ${crdName}: HTTP ${answer.status} ${answer.body.slice(0, 300)}`), { code: answer.status });
  const crd = JSON.parse(answer.body) as RawCrd;
  const served = crd.spec.versions.find((v) => v.name === calicoVersion && v.served) ?? crd.spec.versions.find((v) => v.storage);
  const schema = served?.schema?.openAPIV3Schema as Schema | undefined;
  if (!served || !schema) throw new ConsoleError('not-found', `CRD ${crdName} serves no version with a schema, so ${kind} objects cannot be checked: reinstall Calico's CRDs.`);
  const key = `${config.getCurrentCluster()?.server ?? ''} ${crdName} ${crd.metadata?.resourceVersion ?? ''} ${served.name}`;
  let compiled = cache.get(key);
  if (!compiled) {
    compiled = new LiveCrdSchema(crdName, served.name, schema);
    cache.set(key, compiled);
  }
  return compiled;
}

/** Refuses an object the live schema refuses, naming each field (details: path -> message). */
export async function checkAgainstLiveCrd(config: KubeConfig, kind: CalicoKind, object: Schema): Promise<void> {
  let schema: LiveCrdSchema;
  try {
    schema = await liveCrdSchema(config, kind);
  } catch (error) {
    // Credentials that may write the object but not read CRDs: the server's own check still runs on the write.
    if ((error as { code?: number }).code === 403) return;
    throw error;
  }
  const issues = schema.check(object);
  if (issues.length === 0) return;
  const name = (object.metadata as { name?: string } | undefined)?.name ?? '';
  throw new ConsoleError('invalid-field', `${kind} ${name} does not match the cluster's CRD (${schema.crd} ${schema.version}): ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, Object.fromEntries(issues.map((i) => [i.path, i.message])));
}
