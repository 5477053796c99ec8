// The first-connection question, as OpenSSH asks it: here is the key's fingerprint; compare it with
// what the node's admin says (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before trusting it.
import { useEffect, useRef } from 'react';
import type { HostKeyPrompt } from '../../../shared/api/console-contract.ts';

export function HostKeyDialog({
  nodeName,
  prompt,
  knownHostsPath,
  onAnswer,
}: {
  nodeName: string;
  prompt: HostKeyPrompt;
  knownHostsPath?: string;
  onAnswer: (trust: boolean) => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal(); // modal: focus moves in and stays until answered
  }, []);

  const target = prompt.port === 22 ? prompt.host : `${prompt.host}:${prompt.port}`;
  return (
    <dialog
      ref={dialog}
      aria-labelledby="hostkey-title"
      aria-describedby="hostkey-explanation"
      onCancel={(event) => {
        event.preventDefault(); // Escape means "do not trust"
        onAnswer(false);
      }}
    >
      <h2 id="hostkey-title">Unknown host key for {nodeName}</h2>
      <p id="hostkey-explanation">
        The console has never connected to {target} before. Check that this fingerprint is the node's before you trust it, for example with{' '}
        <code>ssh-keygen -lf /etc/ssh/ssh_host_{prompt.algorithm.replace(/^ssh-/, '')}_key.pub</code> on the node.
      </p>
      <dl>
        <dt>Key type</dt>
        <dd>{prompt.algorithm}</dd>
        <dt>Fingerprint</dt>
        <dd>
          <output aria-label="Host key fingerprint">{prompt.fingerprint}</output>
        </dd>
      </dl>
      {knownHostsPath && <p className="hint">Trusting it adds it to the console's own {knownHostsPath}.</p>}
      <div className="actions">
        <button type="button" onClick={() => onAnswer(false)}>
          Cancel
        </button>
        <button type="button" className="primary" onClick={() => onAnswer(true)}>
          Trust and connect
        </button>
      </div>
    </dialog>
  );
}
