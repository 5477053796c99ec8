// The console's SSH connection to a Kubernetes node: the SSH node of the same name, or the one
// whose host is one of the node's addresses. For the views that act on cluster nodes by name
// (measuring a path, the doctor's evidence).
import type { Client } from 'ssh2';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import type { SshManager } from './ssh-manager.ts';

export async function clusterNodeClient(ssh: SshManager, nodes: NodeStore, nodeName: string, addresses: readonly string[] = []): Promise<Client> {
  const list = nodes.list();
  const node = list.find((n) => n.name === nodeName) ?? list.find((n) => addresses.includes(n.host));
  if (!node) throw new ConsoleError('not-found', `no SSH node matches ${nodeName}: add one (Nodes) with its name or address`);
  const result = await ssh.connect(node.id);
  if (result.state !== 'connected') throw new ConsoleError('ssh-disconnected', `accept ${node.name}'s host key first (Nodes, Connect)`);
  return ssh.client(node.id);
}
