// Which of the cluster's nodes a scan or a bundle reads: one labelled checkbox per node (all by
// default), with All and None to change many at once.
export function NodeChoice({ legend, nodes, chosen, onChange, disabled }: { legend: string; nodes: readonly string[]; chosen: readonly string[]; onChange: (chosen: string[]) => void; disabled?: boolean }) {
  const toggle = (name: string, on: boolean) => onChange(nodes.filter((n) => (n === name ? on : chosen.includes(n))));
  return (
    <fieldset className="node-choice" disabled={disabled}>
      <legend>{legend}</legend>
      {nodes.map((name) => (
        <label key={name} className="check">
          <input type="checkbox" checked={chosen.includes(name)} onChange={(e) => toggle(name, e.target.checked)} /> {name}
        </label>
      ))}
      <button type="button" onClick={() => onChange([...nodes])} disabled={chosen.length === nodes.length} aria-label={`${legend}: all`}>
        All
      </button>
      <button type="button" onClick={() => onChange([])} disabled={chosen.length === 0} aria-label={`${legend}: none`}>
        None
      </button>
    </fieldset>
  );
}
