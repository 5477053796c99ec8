// Reading manifests: one or many YAML documents of any Calico kind Gingham knows, each checked
// with its own rules. Errors say which document and which field.
import { parseAllDocuments } from 'yaml';
import { parseBGPConfiguration, type BGPConfiguration } from './bgp-configuration.ts';
import { parseBGPPeer, type BGPPeer } from './bgp-peer.ts';
import { parseBlockAffinity, parseIPAMBlock, parseIPAMConfig, parseIPAMHandle, type BlockAffinity, type IPAMBlock, type IPAMConfig, type IPAMHandle } from './ipam.ts';
import { parseIPPool, type IPPool } from './ippool.ts';
import { ValidationError } from './validation.ts';

export type CalicoResource =
  | ({ kind: 'IPPool' } & IPPool)
  | ({ kind: 'BGPConfiguration' } & BGPConfiguration)
  | ({ kind: 'BGPPeer' } & BGPPeer)
  | ({ kind: 'IPAMBlock' } & IPAMBlock)
  | ({ kind: 'BlockAffinity' } & BlockAffinity)
  | ({ kind: 'IPAMHandle' } & IPAMHandle)
  | ({ kind: 'IPAMConfig' } & IPAMConfig);

const parsers = {
  IPPool: parseIPPool,
  BGPConfiguration: parseBGPConfiguration,
  BGPPeer: parseBGPPeer,
  IPAMBlock: parseIPAMBlock,
  BlockAffinity: parseBlockAffinity,
  IPAMHandle: parseIPAMHandle,
  IPAMConfig: parseIPAMConfig,
} as const;

export const knownKinds = Object.keys(parsers) as Array<keyof typeof parsers>;

/** Validates one Calico resource of any known kind. */
export function parseCalicoResource(input: unknown): CalicoResource {
  const kind = (input as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !(kind in parsers)) {
    throw new ValidationError('Resource', [
      { path: 'kind', message: `must be one of ${knownKinds.join(', ')} (got ${JSON.stringify(kind)})` },
    ]);
  }
  return { kind, ...parsers[kind as keyof typeof parsers](input) } as CalicoResource;
}

/** Parses a YAML (or JSON) text of one or more documents; a mistake names the document and line. */
export function parseCalicoManifests(text: string): CalicoResource[] {
  const documents = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const out: CalicoResource[] = [];
  list.forEach((document, index) => {
    const where = `document ${index + 1}`;
    const [syntaxError] = document.errors;
    if (syntaxError) {
      const line = syntaxError.linePos?.[0]?.line;
      throw new ValidationError(`YAML ${where}`, [{ path: line ? `line ${line}` : '', message: syntaxError.message.split('\n')[0] ?? 'is not valid YAML' }]);
    }
    let value: unknown;
    try {
      value = document.toJS();
    } catch (error) {
      // An alias whose anchor is not defined before it (*name without &name), or too many aliases.
      throw new ValidationError(`YAML ${where}`, [{ path: '', message: `${(error as Error).message.split('\n')[0]}: define each anchor (&name) before its aliases (*name), or write the value out` }]);
    }
    if (value === null || value === undefined) return;
    try {
      out.push(parseCalicoResource(value));
    } catch (error) {
      if (error instanceof ValidationError) throw new ValidationError(`${error.subject} (${where})`, error.issues);
      throw error;
    }
  });
  return out;
}
