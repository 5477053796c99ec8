// BGPPeer passwords kept in Secrets, read as calico-node reads them: from the agent's own
// namespace, only the Secrets that BGPPeers name, with `get` alone, which an admin grants per
// Secret (Calico's documentation has the same Role for calico-node). The agent's manifests grant
// no Secret at all, so a missing grant is a problem reported per peer, with the commands that fix it.
// Values live in memory only: never logged, never in the agent's status.
import type { BGPPeer } from '../../shared/model/bgp-peer.ts';
import { isForbidden, type KubeApi } from '../datastore/kube-api.ts';
import { agentNamespace, agentServiceAccount } from '../manifests/manifests.ts';

/** Linux's TCP_MD5SIG_MAXKEYLEN, as the speaker's config allows. */
const maxPasswordLength = 80;

interface Fetched {
  value?: string;
  problem?: string;
  /** The Secret or its key is not there (an `optional` reference then means: no password). */
  missing?: boolean;
  at: number;
}

export interface ResolvedPasswords {
  /** BGPPeer name -> password, for peers whose Secret was read. */
  passwords: Map<string, string>;
  /** BGPPeer name -> why its password is not (yet) known; such a peer is left out until it is. */
  problems: Map<string, string>;
}

function grantCommands(secret: string): string {
  const role = `gingham-bgp-secret-${secret}`.slice(0, 63);
  return (
    `kubectl -n ${agentNamespace} create role ${role} --verb=get --resource=secrets --resource-name=${secret} && ` +
    `kubectl -n ${agentNamespace} create rolebinding ${role} --role=${role} --serviceaccount=${agentNamespace}:${agentServiceAccount}`
  );
}

export class PeerPasswords {
  private readonly fetched = new Map<string, Fetched>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly client: Pick<KubeApi, 'get'>,
    /** Called when a password or a problem changes: the desired state must be computed again. */
    private readonly onChange: () => void,
    /** Secrets are read again this often, so that a rotated password or a new grant is picked up. */
    private readonly refreshMs = 30_000,
    private readonly namespace = agentNamespace,
  ) {}

  /** What is known now; reads in the background what is missing or stale, and calls onChange if it differs. */
  resolve(peers: readonly BGPPeer[]): ResolvedPasswords {
    const passwords = new Map<string, string>();
    const problems = new Map<string, string>();
    for (const peer of peers) {
      const ref = peer.spec.password?.secretKeyRef;
      if (!ref) continue;
      if (!ref.name) {
        problems.set(peer.metadata.name, 'its password.secretKeyRef has no Secret name');
        continue;
      }
      const id = `${ref.name}\u0000${ref.key}`;
      const known = this.fetched.get(id);
      if (!known || Date.now() - known.at > this.refreshMs) this.fetch(id, ref.name, ref.key);
      if (known?.value !== undefined) passwords.set(peer.metadata.name, known.value);
      else if (known?.problem && !(ref.optional && known.missing)) problems.set(peer.metadata.name, known.problem);
      else if (!known) problems.set(peer.metadata.name, `reading Secret ${this.namespace}/${ref.name}`);
    }
    return { passwords, problems };
  }

  private fetch(id: string, secret: string, key: string): void {
    if (this.inFlight.has(id)) return;
    this.inFlight.add(id);
    void this.read(secret, key)
      .then((result) => {
        const before = this.fetched.get(id);
        this.fetched.set(id, { ...result, at: Date.now() });
        if (before?.value !== result.value || before?.problem !== result.problem) this.onChange();
      })
      .finally(() => this.inFlight.delete(id));
  }

  private async read(secret: string, key: string): Promise<Omit<Fetched, 'at'>> {
    const where = `Secret ${this.namespace}/${secret}`;
    try {
      const object = await this.client.get<{ data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: this.namespace } });
      if (!object) return { missing: true, problem: `${where} does not exist (BGPPeer passwords are read from the agent's namespace, as calico-node reads them from its own)` };
      const encoded = object.data?.[key];
      if (encoded === undefined) return { missing: true, problem: `${where} has no key ${key}` };
      const value = Buffer.from(encoded, 'base64').toString('utf8');
      // Checked here, not by the speaker's config: one bad Secret must not stop every other BGP change.
      if (value.length < 1 || value.length > maxPasswordLength) return { problem: `${where} key ${key} holds ${value.length} characters; a TCP-MD5 password has 1 to ${maxPasswordLength}` };
      return { value };
    } catch (error) {
      if (isForbidden(error)) return { problem: `the agent may not read ${where}; grant it that one Secret: ${grantCommands(secret)}` };
      return { problem: `could not read ${where}: ${(error as Error).message}` };
    }
  }
}
