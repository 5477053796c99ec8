// The cluster's IPPools (crd.projectcalico.org/v1, as calico-node and the agent read them):
// listed, created, updated with optimistic concurrency on resourceVersion (a conflict carries the
// newer object so that the user sees what changed), deleted with a resourceVersion precondition.
// Every write is validated first with shared/model's rules, the same as the CRD's.
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { PoolFields, PoolRow } from '../../../shared/api/cluster-ops-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { pluralOfCalicoKind } from '../../../shared/model/calico-kinds.ts';
import { parseIPPool, validateIPPoolUpdate } from '../../../shared/model/ippool.ts';
import { ValidationError } from '../../../shared/model/validation.ts';

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

function invalid(error: ValidationError): ConsoleError {
  const details = Object.fromEntries(error.issues.map((issue) => [issue.path.replace(/^spec\./, ''), issue.message]));
  return new ConsoleError('invalid-field', error.message, details);
}

export class IPPoolStore {
  private readonly api: CustomObjectsApi;

  constructor(config: KubeConfig) {
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
    const current = resourceVersion === undefined ? undefined : await this.edited(name);
    const object: StoredPool = {
      apiVersion: `${group}/${version}`,
      kind: 'IPPool',
      metadata: current ? { ...current.metadata, resourceVersion } : { name },
      // Fields the console does not edit (nodeSelector, allowedUses, ...) stay as they are.
      spec: { ...(current?.spec ?? {}), ...fields },
    };
    try {
      const next = parseIPPool({ ...object, apiVersion: 'crd.projectcalico.org/v1' });
      if (current) validateIPPoolUpdate(parseIPPool({ ...current, apiVersion: 'crd.projectcalico.org/v1' }), next);
    } catch (error) {
      if (error instanceof ValidationError) throw invalid(error);
      throw error;
    }
    if (current && current.metadata.resourceVersion !== resourceVersion) throw this.conflict(name, current);
    try {
      const saved = current
        ? await this.api.replaceClusterCustomObject({ group, version, plural, name, body: object, fieldManager: 'gingham-console' })
        : await this.api.createClusterCustomObject({ group, version, plural, body: object, fieldManager: 'gingham-console' });
      return poolRow(saved as StoredPool);
    } catch (error) {
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
