// The first screen on the lab: when `npm start` brought the lab up, the console lands on Nodes
// already connected to it (the lab's context, and each of its nodes over SSH, verified against the
// host keys the lab made, so nothing asks the newcomer), and one line says what the lab is and how
// to connect one's own cluster instead. Without a lab this renders nothing and connects nothing.
import { useEffect, useRef, useState } from 'react';
import type { RequestResult } from '../../../shared/api/console-contract.ts';
import { messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { useSsh } from '../ssh/ssh-state.tsx';

type Lab = NonNullable<RequestResult<'app.info'>['lab']>;

export function LabLanding({ cluster, onConnected }: { cluster?: ConnectedCluster; onConnected: (cluster: ConnectedCluster) => void }) {
  const client = useClient();
  const ssh = useSsh();
  const [lab, setLab] = useState<Lab | undefined>();
  const [phase, setPhase] = useState<'connecting' | 'connected' | { problem: string }>('connecting');
  const started = useRef(false);

  useEffect(() => {
    client.request('app.info', {}).then(
      (info) => {
        if (!info.lab) return;
        setLab(info.lab);
        // Land on Nodes, unless the address already names a section (a reload, a bookmark).
        if (window.location.hash === '' || window.location.hash === '#') window.location.hash = '#/nodes';
      },
      () => undefined, // no lab to land on; the sections say what is wrong with the backend
    );
  }, [client]);

  // Once the lab's nodes are listed: connect them all, then the cluster, so that the agents'
  // panel (which reads each agent over its node's SSH connection) opens on running agents.
  useEffect(() => {
    if (!lab || started.current) return;
    const nodes = ssh.nodes.filter((n) => lab.nodeIds.includes(n.id));
    if (nodes.length < lab.nodeIds.length) return;
    started.current = true;
    void (async () => {
      const connected = await Promise.all(nodes.map((node) => ssh.connect(node)));
      let problem = connected.every(Boolean) ? undefined : `${nodes.filter((_, i) => !connected[i]).map((n) => n.name).join(', ')} did not connect (see below).`;
      if (lab.context && !cluster) {
        try {
          onConnected(await client.request('contexts.connect', { context: lab.context }));
        } catch (error) {
          problem = `${problem ? `${problem} ` : ''}The lab's context ${lab.context} did not connect: ${messageOf(error)}`;
        }
      }
      setPhase(problem ? { problem } : 'connected');
    })();
    // `ssh` changes with every connection state; the ref keeps this to one landing.
  }, [lab, ssh, client, cluster, onConnected]);

  if (!lab) return null;
  const names = ssh.nodes.filter((n) => lab.nodeIds.includes(n.id)).map((n) => n.name);
  return (
    <div className="banner lab" role="note" aria-label="The lab">
      <p>
        <strong>This is the lab</strong>: the seed&rsquo;s cluster ({names.join(', ')}) in network namespaces on this machine, brought up by{' '}
        <code>npm start</code>.{' '}
        {phase === 'connecting' && <span role="status">Connecting to its context and to its nodes over SSH…</span>}
        {phase === 'connected' && <span role="status">Connected to its context {lab.context ?? ''} and to its nodes over SSH (the lab&rsquo;s host keys).</span>}{' '}
        Your own cluster: connect its context under <a href="#/clusters">Clusters</a>.
      </p>
      {typeof phase === 'object' && (
        <p role="alert" className="error">
          {phase.problem}
        </p>
      )}
    </div>
  );
}
