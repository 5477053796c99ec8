// Terminal: a shell on a chosen SSH node.
import { useState } from 'react';
import type { SshNode } from '../../../shared/api/console-contract.ts';
import { TerminalView } from '../components/TerminalView.tsx';
import { useSsh } from '../ssh/ssh-state.tsx';
import { NodePicker } from '../components/NodePicker.tsx';

export function TerminalPage({ initialNode, active }: { initialNode?: SshNode; active: boolean }) {
  const ssh = useSsh();
  const [chosen, setChosen] = useState<string>(initialNode?.id ?? '');
  const [open, setOpen] = useState<SshNode | undefined>(initialNode);
  const [session, setSession] = useState(0);
  // "Open a terminal on …" elsewhere picks a node: follow it.
  const [followed, setFollowed] = useState(initialNode);
  if (initialNode !== followed) {
    setFollowed(initialNode);
    if (initialNode) {
      setChosen(initialNode.id);
      setOpen(initialNode);
      setSession((n) => n + 1);
    }
  }
  const [error, setError] = useState<string | undefined>();

  const start = async () => {
    const node = ssh.nodes.find((n) => n.id === chosen);
    if (!node) return;
    setError(undefined);
    if (ssh.connection(node.id).state !== 'connected' && !(await ssh.connect(node))) {
      const c = ssh.connection(node.id);
      setError(c.state === 'failed' ? c.message : `Cannot connect to ${node.name}; see Nodes for details.`);
      return;
    }
    setOpen(node);
    setSession((n) => n + 1);
  };

  return (
    <section aria-labelledby={active ? 'section-heading' : undefined} className="terminal-page">
      <h1 id={active ? 'section-heading' : undefined} tabIndex={-1}>
        Terminal
      </h1>
      {ssh.nodes.length === 0 ? (
        <p>No SSH nodes yet: add one under Nodes first.</p>
      ) : (
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <NodePicker value={chosen} onChange={setChosen} />
          <button type="submit" disabled={chosen === ''}>
            Open terminal
          </button>
        </form>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {open && <TerminalView key={`${open.id}-${session}`} node={open} />}
    </section>
  );
}
