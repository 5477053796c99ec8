// The one way to choose an SSH node (Routes, BGP peers, Captures, Terminal): a labelled select of
// the console's nodes, empty until the user picks one.
import { useSsh } from '../ssh/ssh-state.tsx';

export function NodePicker({ value, onChange, label = 'Node' }: { value: string; onChange: (id: string) => void; label?: string }) {
  const ssh = useSsh();
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Choose a node</option>
        {ssh.nodes.map((n) => (
          <option key={n.id} value={n.id}>
            {n.name}
          </option>
        ))}
      </select>
    </label>
  );
}
