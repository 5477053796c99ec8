// Which Secrets are read, when, and what a peer gets: against a stand-in for the API's `get` (the
// RBAC side runs against a real kube-apiserver in peer-passwords.int.test.ts).
import { describe, expect, it } from 'vitest';
import { parseBGPPeer } from '../../shared/model/bgp-peer.ts';
import { KubeError, type ObjectRef } from '../datastore/kube-api.ts';
import { PeerPasswords } from './peer-passwords.ts';

const peer = (name: string, ref?: { name: string; key: string; optional?: boolean }) =>
  parseBGPPeer({ apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name }, spec: { peerIP: '10.0.0.1', ...(ref ? { password: { secretKeyRef: ref } } : {}) } });

function api(secrets: Record<string, Record<string, string> | 'forbidden'>) {
  const reads: string[] = [];
  return {
    reads,
    async get<T>(ref: ObjectRef): Promise<T | undefined> {
      reads.push(`${ref.metadata.namespace}/${ref.metadata.name}`);
      const secret = secrets[ref.metadata.name];
      if (secret === 'forbidden') throw new KubeError('secrets "x" is forbidden', 403);
      if (!secret) return undefined;
      return { data: Object.fromEntries(Object.entries(secret).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } as T;
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('BGPPeer passwords from Secrets', () => {
  it('reads only the Secrets BGPPeers name, in the agent namespace, then gives each peer its key', async () => {
    const client = api({ 'bgp-secrets': { tor: 'pa55', rr: 'other' } });
    let changes = 0;
    const passwords = new PeerPasswords(client, () => changes++);
    const peers = [peer('tor', { name: 'bgp-secrets', key: 'tor' }), peer('plain')];
    expect(passwords.resolve(peers).problems.get('tor')).toBe('reading Secret gingham-system/bgp-secrets');
    await settle();
    expect(changes).toBe(1);
    const resolved = passwords.resolve(peers);
    expect([...resolved.passwords]).toEqual([['tor', 'pa55']]);
    expect(resolved.problems.size).toBe(0);
    expect(client.reads).toEqual(['gingham-system/bgp-secrets']);
  });

  it('says how to grant a Secret the agent may not read, and what is missing otherwise', async () => {
    const passwords = new PeerPasswords(api({ locked: 'forbidden', partial: { other: 'x', empty: '', long: 'x'.repeat(81) } }), () => undefined);
    const peers = [
      peer('a', { name: 'locked', key: 'a' }),
      peer('b', { name: 'partial', key: 'b' }),
      peer('c', { name: 'absent', key: 'c' }),
      peer('d', { name: 'absent', key: 'd', optional: true }),
      peer('e', { name: 'partial', key: 'empty' }),
      peer('f', { name: 'partial', key: 'long' }),
    ];
    passwords.resolve(peers);
    await settle();
    const { passwords: known, problems } = passwords.resolve(peers);
    expect(known.size).toBe(0);
    expect(problems.get('a')).toMatch(/may not read Secret gingham-system\/locked; grant it that one Secret: kubectl -n gingham-system create role \S+ --verb=get --resource=secrets --resource-name=locked && kubectl -n gingham-system create rolebinding/);
    expect(problems.get('b')).toBe('Secret gingham-system/partial has no key b');
    expect(problems.get('c')).toMatch(/^Secret gingham-system\/absent does not exist/);
    // optional: a missing Secret means no password, not a problem.
    expect(problems.has('d')).toBe(false);
    // What the kernel would refuse is refused here, for that peer alone.
    expect(problems.get('e')).toBe('Secret gingham-system/partial key empty holds 0 characters; a TCP-MD5 password has 1 to 80');
    expect(problems.get('f')).toMatch(/key long holds 81 characters/);
  });

  it('reads again after the refresh interval, and tells of a rotated password', async () => {
    const secrets: Record<string, Record<string, string>> = { s: { k: 'one' } };
    let changes = 0;
    const passwords = new PeerPasswords(api(secrets), () => changes++, 0);
    const peers = [peer('p', { name: 's', key: 'k' })];
    passwords.resolve(peers);
    await settle();
    secrets.s = { k: 'two' };
    expect(passwords.resolve(peers).passwords.get('p')).toBe('one');
    await settle();
    expect(passwords.resolve(peers).passwords.get('p')).toBe('two');
    expect(changes).toBe(2);
  });
});
