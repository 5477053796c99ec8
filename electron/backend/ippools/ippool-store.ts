// The cluster's IPPools (crd.projectcalico.org/v1, as calico-node and the agent read them):
// listed, created, updated with optimistic concurrency on resourceVersion (a conflict carries the
// newer object so that the user sees what changed), deleted with a resourceVersion precondition.
// Every write is validated first with shared/model's rules, the same as the CRD's, then against
// the cluster's live CRD schema (routing-config/live-crd-schema.ts).
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { PoolDryRun, PoolFields, PoolRow, SpecChange } from '../../../shared/api/cluster-ops-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { pluralOfCalicoKind } from '../../../shared/model/calico-kinds.ts';
import { parseIPPool, validateIPPoolUpdate } from '../../../shared/model/ippool.ts';
import { ValidationError } from '../../../shared/model/validation.ts';
import { checkAgainstLiveCrd } from '../routing-config/live-crd-schema.ts';

const group = 'crd.projectcalico.org';
const version = 'v1';
const plural = pluralOfCalicoKind('IPPool');

interface StoredPool {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string; [key: string]: unknown };
  spec: Record<string, unknown>;
}

export function poolRow(object: StoredPool): PoolRow {
  const pool = parseIPPool({ ...object, apiVersion: 'crd.projectcalico.org/v1' });
  const mode = (m: string) => (m === 'Always' || m === 'CrossSubnet' ? m : 'Never');
  return {
    name: object.metadata.name,
    resourceVersion: object.metadata.resourceVersion ?? '',
    fields: {
      cidr: pool.spec.cidr,
      blockSize: pool.spec.blockSize,
      ipipMode: mode(pool.spec.ipipMode),
      vxlanMode: mode(pool.spec.vxlanMode),
      natOutgoing: pool.spec.natOutgoing,
      disabled: pool.spec.disabled,
    },
  };
}

/**
 * The form's fields that change the pool: a field the stored object leaves out and the form keeps
 * at its default (disabled false, say) stays out, so a save writes only what the admin changed.
 */
function changedFields(current: StoredPool, fields: PoolFields): Partial<PoolFields> {
  const stored = poolRow(current).fields;
  return Object.fromEntries(Object.entries(fields).filter(([field, value]) => current.spec[field] !== undefined || stored[field as keyof PoolFields] !== value));
}

/** Every spec field whose value differs, as the API server would store it; JSON-compared. */
export function specChanges(before: Record<string, unknown>, after: Record<string, unknown>): SpecChange[] {
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return fields.flatMap((field) => {
    const was = before[field] === undefined ? undefined : JSON.stringify(before[field]);
    const becomes = after[field] === undefined ? undefined : JSON.stringify(after[field]);
    return was === becomes ? [] : [{ field, ...(was === undefined ? {} : { before: was }), ...(becomes === undefined ? {} : { after: becomes }) }];
  });
}

/** The server's own words for a write it refused (a CRD schema or CEL rule, an admission webhook). */
function refusedByServer(name: string, error: InstanceType<typeof ApiException>): ConsoleError {
  let message = String(error.message);
  try {
    message = (JSON.parse(String(error.body)) as { message?: string }).message ?? message;
  } catch {
    // not a Status object: keep the client's message
  }
  return new ConsoleError('invalid-field', `The API server refused IP pool ${name}: ${message}`, {});
}

function invalid(error: ValidationError): ConsoleError {
  const details = Object.fromEntries(error.issues.map((issue) => [issue.path.replace(/^spec\./, ''), issue.message]));
  return new ConsoleError('invalid-field', error.message, details);
}

export class IPPoolStore {
  private readonly api: CustomObjectsApi;

  constructor(private readonly config: KubeConfig) {
    this.api = config.makeApiClient(CustomObjectsApi);
  }

  async list(): Promise<PoolRow[]> {
    const list = (await this.api.listClusterCustomObject({ group, version, plural })) as { items: StoredPool[] };
    return list.items.map(poolRow).sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<StoredPool> {
    return (await this.api.getClusterCustomObject({ group, version, plural, name })) as StoredPool;
  }

  /** Creates (no resourceVersion) or updates the pool; a stale resourceVersion is a `conflict` with the newer pool in details. */
  async save(name: string, fields: PoolFields, resourceVersion?: string): Promise<PoolRow> {
    return poolRow(await this.write(name, fields, resourceVersion, false));
  }

  /**
   * The same write as `save`, sent with `dryRun=All`: the API server validates it against the live
   * CRD (Calico's own schema and CEL rules where Calico's CRDs are installed), runs admission and
   * defaulting, and answers with what it would store, storing nothing. Returns the stored spec
   * beside that, field by field.
   */
  async dryRun(name: string, fields: PoolFields, resourceVersion?: string): Promise<PoolDryRun> {
    const before = resourceVersion === undefined ? undefined : (await this.get(name)).spec;
    const after = (await this.write(name, fields, resourceVersion, true)).spec;
    return { changes: specChanges(before ?? {}, after), created: before === undefined };
  }

  private async write(name: string, fields: PoolFields, resourceVersion: string | undefined, dryRun: boolean): Promise<StoredPool> {
    const current = resourceVersion === undefined ? undefined : await this.edited(name);
    const object: StoredPool = {
      apiVersion: `${group}/${version}`,
      kind: 'IPPool',
      metadata: current ? { ...current.metadata, resourceVersion } : { name },
      // Fields the console does not edit (nodeSelector, allowedUses, ...) stay as they are.
      spec: { ...(current?.spec ?? {}), ...(current ? changedFields(current, fields) : fields) },
    };
    try {
      const next = parseIPPool({ ...object, apiVersion: 'crd.projectcalico.org/v1' });
      if (current) validateIPPoolUpdate(parseIPPool({ ...current, apiVersion: 'crd.projectcalico.org/v1' }), next);
    } catch (error) {
      if (error instanceof ValidationError) throw invalid(error);
      throw error;
    }
    if (current && current.metadata.resourceVersion !== resourceVersion) throw this.conflict(name, current);
    // The cluster's own CRD next (it may be a newer Calico's than the model above): named field by field.
    await checkAgainstLiveCrd(this.config, 'IPPool', object as unknown as Record<string, unknown>);
    const options = { fieldManager: 'gingham-console', ...(dryRun ? { dryRun: 'All' } : {}) };
    try {
      const saved = current
        ? await this.api.replaceClusterCustomObject({ group, version, plural, name, body: object, ...options })
        : await this.api.createClusterCustomObject({ group, version, plural, body: object, ...options });
      return saved as StoredPool;
    } catch (error) {
      if (error instanceof ApiException && (error.code === 422 || error.code === 400)) throw refusedByServer(name, error);
      if (error instanceof ApiException && error.code === 409) {
        if (!current) throw new ConsoleError('conflict', `There is already an IP pool named ${name}.`, { current: JSON.stringify(poolRow(await this.get(name))) });
        throw this.conflict(name, await this.edited(name));
      }
      throw error;
    }
  }

  /** The pool the admin opened to edit; one deleted since is said in words, never a raw 404. */
  private async edited(name: string): Promise<StoredPool> {
    try {
      return await this.get(name);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) {
        throw new ConsoleError('not-found', `IP pool ${name} was deleted since you opened it, so nothing was saved. Reload the pools; to have it again, create it anew.`);
      }
      throw error;
    }
  }

  private conflict(name: string, newer: StoredPool): ConsoleError {
    const row = poolRow(newer);
    return new ConsoleError('conflict', `Someone changed IP pool ${name} since you opened it (now resourceVersion ${row.resourceVersion}). Review the newer pool below, then apply again.`, {
      current: JSON.stringify(row),
    });
  }

  async delete(name: string, resourceVersion: string): Promise<boolean> {
    try {
      await this.api.deleteClusterCustomObject({ group, version, plural, name, body: { preconditions: { resourceVersion } } });
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      if (error instanceof ApiException && error.code === 409) throw this.conflict(name, await this.get(name));
      throw error;
    }
  }
}
