// Every ordered pair of nodes per pool: encapsulated or direct, and why (the pool's modes, the
// subnets compared as Calico compares them); pairs decided differently each way are named.
import type { NodePairTable } from '../../../shared/doctor/pairs.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';

const encapText = { ipip: 'IP-in-IP', vxlan: 'VXLAN', direct: 'direct', local: 'local' } as const;

export function NodePairsTable({ table }: { table: NodePairTable }) {
  const asymmetric = table.pairs.filter((p) => p.asymmetric);
  return (
    <div className="node-pairs">
      <table>
        <caption>Node pairs</caption>
        <ColumnHeaders columns={['From', 'To', 'Pool', 'Encapsulation', 'Subnets', 'Why']} />
        <tbody>
          {table.pairs.map((p) => (
            <tr key={`${p.pool} ${p.from} ${p.to}`} data-encapsulation={p.encapsulation} className={p.asymmetric ? 'asymmetric' : undefined}>
              <td>{p.from}</td>
              <td>{p.to}</td>
              <td>{p.pool}</td>
              <td className={`encap encap-${p.encapsulation}`}>{encapText[p.encapsulation]}</td>
              <td>
                {p.crossesSubnet === undefined ? 'unknown' : p.crossesSubnet ? 'crossed' : 'same'}
                {p.asymmetric ? ' · asymmetric' : ''}
              </td>
              <td className="why">{p.why}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {asymmetric.length > 0 && (
        <p role="alert" className="warning">
          The way back is decided differently for {asymmetric.map((p) => `${p.from}→${p.to}`).join(', ')}: a node registered with a /32 address counts every other node as another subnet (calico#2375). Register it with its subnet&apos;s prefix length.
        </p>
      )}
      {table.gaps.map((g) => (
        <p key={g} className="hint">
          Not read: {g}
        </p>
      ))}
    </div>
  );
}
