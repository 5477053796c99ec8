// The objects a routing change touches (IPPool, BGPPeer, BGPConfiguration, FelixConfiguration),
// edited as a whole spec: listed, checked against the live CRD, sent as a server-side dry run
// (dryRun=All) whose answer is diffed against the stored spec, and applied with optimistic
// concurrency on resourceVersion (a conflict carries the newer object). Fields outside spec
// (labels, annotations) are kept as stored.
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { RoutingDryRun, RoutingKind, RoutingObject, SchemaIssue } from '../../../shared/api/routing-config-contract.ts';
import { pluralOfCalicoKind } from '../../../shared/model/calico-kinds.ts';
import { specChanges } from '../ippools/ippool-store.ts';
import { calicoGroup as group, calicoVersion as version, checkAgainstLiveCrd, liveCrdSchema } from './live-crd-schema.ts';

interface Stored {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string; [key: string]: unknown };
  spec?: Record<string, unknown>;
}

const row = (object: Stored): RoutingObject => ({ name: object.metadata.name, resourceVersion: object.metadata.resourceVersion ?? '', spec: object.spec ?? {} });

/** The server's own words for a write it refused (a CRD schema or CEL rule, an admission webhook). */
function refused(kind: string, name: string, error: InstanceType<typeof ApiException>): ConsoleError {
  let message = String(error.message);
  try {
    message = (JSON.parse(String(error.body)) as { message?: string }).message ?? message;
  } catch {
    // not a Status object: keep the client's message
  }
  return new ConsoleError('invalid-field', `The API server refused ${kind} ${name}: ${message}`, {});
}

export class RoutingConfigStore {
  private readonly api: CustomObjectsApi;
  private readonly plural: string;

  constructor(
    private readonly config: KubeConfig,
    private readonly kind: RoutingKind,
  ) {
    this.api = config.makeApiClient(CustomObjectsApi);
    this.plural = pluralOfCalicoKind(kind);
  }

  async list(): Promise<RoutingObject[]> {
    const list = (await this.api.listClusterCustomObject({ group, version, plural: this.plural })) as { items: Stored[] };
    return list.items.map(row).sort((a, b) => a.name.localeCompare(b.name));
  }

  async validate(spec: Record<string, unknown>): Promise<{ issues: SchemaIssue[]; crd: string; version: string }> {
    const schema = await liveCrdSchema(this.config, this.kind);
    return { issues: schema.check({ apiVersion: `${group}/${version}`, kind: this.kind, metadata: { name: 'checked' }, spec }), crd: schema.crd, version: schema.version };
  }

  async dryRun(name: string, spec: Record<string, unknown>, resourceVersion?: string): Promise<RoutingDryRun> {
    const { stored, written } = await this.write(name, spec, resourceVersion, true);
    return { created: stored === undefined, changes: specChanges(stored?.spec ?? {}, written.spec ?? {}), wouldStore: written.spec ?? {} };
  }

  async apply(name: string, spec: Record<string, unknown>, resourceVersion?: string): Promise<RoutingObject> {
    return row((await this.write(name, spec, resourceVersion, false)).written);
  }

  private async get(name: string): Promise<Stored> {
    return (await this.api.getClusterCustomObject({ group, version, plural: this.plural, name })) as Stored;
  }

  private async write(name: string, spec: Record<string, unknown>, resourceVersion: string | undefined, dryRun: boolean): Promise<{ stored?: Stored; written: Stored }> {
    const stored = resourceVersion === undefined ? undefined : await this.edited(name);
    if (stored && stored.metadata.resourceVersion !== resourceVersion) throw this.conflict(name, stored);
    const object: Stored = {
      apiVersion: `${group}/${version}`,
      kind: this.kind,
      metadata: stored ? { ...stored.metadata, resourceVersion } : { name },
      spec,
    };
    await checkAgainstLiveCrd(this.config, this.kind, object as unknown as Record<string, unknown>);
    const options = { fieldManager: 'gingham-console', ...(dryRun ? { dryRun: 'All' } : {}) };
    try {
      const written = stored
        ? await this.api.replaceClusterCustomObject({ group, version, plural: this.plural, name, body: object, ...options })
        : await this.api.createClusterCustomObject({ group, version, plural: this.plural, body: object, ...options });
      return { ...(stored ? { stored } : {}), written: written as Stored };
    } catch (error) {
      if (error instanceof ApiException && (error.code === 422 || error.code === 400)) throw refused(this.kind, name, error);
      if (error instanceof ApiException && error.code === 409) {
        if (!stored) throw new ConsoleError('conflict', `There is already a ${this.kind} named ${name}: open it from the list to edit it.`, { current: JSON.stringify(row(await this.get(name))) });
        throw this.conflict(name, await this.edited(name));
      }
      throw error;
    }
  }

  /** The object the admin opened; one deleted since is said in words, never a raw 404. */
  private async edited(name: string): Promise<Stored> {
    try {
      return await this.get(name);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) {
        throw new ConsoleError('not-found', `${this.kind} ${name} was deleted since you opened it, so nothing was sent. Reload the list; to have it again, create it anew.`);
      }
      throw error;
    }
  }

  private conflict(name: string, newer: Stored): ConsoleError {
    const current = row(newer);
    return new ConsoleError('conflict', `Someone changed ${this.kind} ${name} since you opened it (now resourceVersion ${current.resourceVersion}). Review the newer object, then dry-run again.`, {
      current: JSON.stringify(current),
    });
  }
}
