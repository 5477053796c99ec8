// A test node added to the console and connected over SSH, its host key trusted on first sight as
// the user does when the console asks: what every test of a feature that runs over SSH starts with.
import type { AttachedClient } from '../../console-backend.ts';

export interface SshTestNode {
  address: string;
  user: string;
  userKey: string;
}

/** Adds `node` as `name`, trusts its host key, connects; the console's id for it. */
export async function connectNode(client: AttachedClient, name: string, node: SshTestNode): Promise<string> {
  const nodeId = (await client.handlers['nodes.add']({ name, host: node.address, user: node.user, identityFile: node.userKey })).id;
  const first = await client.handlers['ssh.connect']({ nodeId });
  if (first.state === 'host-key-unknown') await client.handlers['ssh.trustHostKey']({ promptId: first.prompt.promptId });
  const connected = await client.handlers['ssh.connect']({ nodeId });
  if (connected.state !== 'connected') throw new Error(`${name} did not connect over SSH: ${connected.state}`);
  return nodeId;
}
