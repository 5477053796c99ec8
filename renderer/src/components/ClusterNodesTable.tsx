// The connected cluster's Kubernetes nodes (addresses, Ready, roles), as the API server lists
// them; on the Nodes page each node with an InternalIP can be taken into the SSH form.
import { useMemo } from 'react';
import type { ClusterNode } from '../../../shared/api/console-contract.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { DataTable, type Column } from './DataTable.tsx';

const addressText = (node: ClusterNode) => node.addresses.map((a) => `${a.address} (${a.type})`).join(', ') || 'none reported';
const readyText = (node: ClusterNode) => (node.ready ? 'Ready' : 'Not ready');
const rolesText = (node: ClusterNode) => node.roles.join(', ') || 'none';

const baseColumns: Column<ClusterNode>[] = [
  { id: 'node', header: 'Node', width: 'minmax(8rem, 1fr)', rowHeader: true, cell: (n) => n.name, text: (n) => n.name, sort: (n) => n.name },
  { id: 'addresses', header: 'Addresses', width: 'minmax(16rem, 3fr)', cell: addressText, text: addressText, sort: (n) => n.addresses.find((a) => a.type === 'InternalIP')?.address ?? '' },
  { id: 'ready', header: 'Ready', width: '7rem', cell: readyText, text: readyText, sort: readyText },
  { id: 'roles', header: 'Roles', width: 'minmax(7rem, 1fr)', cell: rolesText, text: rolesText, sort: rolesText },
];

const nodeName = (node: ClusterNode) => node.name;
const nodeAttributes = (node: ClusterNode) => ({ 'data-node': node.name });

export function ClusterNodesTable({ cluster, onUseForSsh }: { cluster: ConnectedCluster; onUseForSsh?: (name: string, address: string) => void }) {
  const columns = useMemo<Column<ClusterNode>[]>(
    () =>
      onUseForSsh
        ? [
            ...baseColumns,
            {
              id: 'actions',
              header: 'Actions',
              width: '9rem',
              cell: (node) => {
                const internal = node.addresses.find((a) => a.type === 'InternalIP')?.address;
                return (
                  internal && (
                    <button type="button" onClick={() => onUseForSsh(node.name, internal)} aria-label={`Use ${node.name} for SSH`}>
                      Use for SSH
                    </button>
                  )
                );
              },
            },
          ]
        : baseColumns,
    [onUseForSsh],
  );
  return (
    <DataTable
      caption={`Nodes of ${cluster.context}`}
      columns={columns}
      rows={cluster.nodes}
      rowKey={nodeName}
      rowAttributes={nodeAttributes}
      filterLabel="Filter cluster nodes"
      filterPlaceholder="node, address, worker…"
      rowHeight={37}
      maxHeight="45vh"
    />
  );
}
