import type { ConnectedCluster } from '../api/connected-cluster.ts';

export function ClusterNodesTable({ cluster, onUseForSsh }: { cluster: ConnectedCluster; onUseForSsh?: (name: string, address: string) => void }) {
  return (
    <table>
      <caption>Nodes of {cluster.context}</caption>
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">Addresses</th>
          <th scope="col">Ready</th>
          <th scope="col">Roles</th>
          {onUseForSsh && <th scope="col">Actions</th>}
        </tr>
      </thead>
      <tbody>
        {cluster.nodes.map((node) => {
          const internal = node.addresses.find((a) => a.type === 'InternalIP')?.address;
          return (
            <tr key={node.name}>
              <th scope="row">{node.name}</th>
              <td>{node.addresses.map((a) => `${a.address} (${a.type})`).join(', ') || 'none reported'}</td>
              <td>{node.ready ? 'Ready' : 'Not ready'}</td>
              <td>{node.roles.join(', ') || 'none'}</td>
              {onUseForSsh && (
                <td>
                  {internal && (
                    <button type="button" onClick={() => onUseForSsh(node.name, internal)} aria-label={`Use ${node.name} for SSH`}>
                      Use for SSH
                    </button>
                  )}
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
