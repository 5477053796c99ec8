// IP pools: list, create, edit, delete, each field checked with shared/model's rules (the CRD's)
// as it is typed. Before a change is applied, a preview per node of the routes, devices and BGP
// sessions it adds and removes (the agent's own planner); Apply writes with the resourceVersion
// that was edited (a conflict shows the newer pool), then each node's convergence and its time.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { NodeConvergence, NodePreview, PoolDryRun, PoolFields, PoolRow } from '../../../shared/api/cluster-ops-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { encapsulationModes } from '../../../shared/model/modes.ts';
import { messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { ConnectivityMatrix, useConnectivity } from './ConnectivityMatrix.tsx';
import { poolFieldErrors } from './pool-field-errors.ts';
import { Preview, ServerDryRun } from './PoolChangeViews.tsx';
import { StagedSwitch } from './StagedSwitch.tsx';
import './cluster.css';

const blank: PoolFields = { cidr: '', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: true, disabled: false };

interface Editing {
  name: string;
  fields: PoolFields;
  /** Absent for a new pool. */
  resourceVersion?: string;
}

interface Convergence {
  startedAt: number;
  nodes: Record<string, { converged: boolean; detail: string; ms?: number }>;
  allMs?: number;
}

/** Once every node has converged: the pod matrix for the new mode, probed by the agents, where the change was made. */
function ConnectivityAfterApply({ context }: { context: string }) {
  const { matrix, error, running, probe } = useConnectivity(context);
  return (
    <section className="after-apply" aria-label="Connectivity after the change">
      <h2>Connectivity after the change</h2>
      <div className="toolbar">
        <button type="button" onClick={() => void probe()} disabled={running}>
          {running ? 'Probing…' : 'Probe again'}
        </button>
        {matrix && !running && <span className="hint">Probed in {(matrix.ms / 1000).toFixed(1)} s by the agents.</span>}
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {matrix && <ConnectivityMatrix matrix={matrix} caption="After the change: from (rows) to (columns)" />}
    </section>
  );
}

export function IpPoolsPage({ cluster }: { cluster?: ConnectedCluster }) {
  const client = useClient();
  const [pools, setPools] = useState<PoolRow[] | undefined>();
  const [editing, setEditing] = useState<Editing | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [conflict, setConflict] = useState<PoolRow | undefined>();
  const [preview, setPreview] = useState<NodePreview[] | undefined>();
  const [dryRun, setDryRun] = useState<PoolDryRun | undefined>();
  const [convergence, setConvergence] = useState<Convergence | undefined>();
  const [busy, setBusy] = useState(false);
  /** The pool whose staged switch is open. */
  const [switching, setSwitching] = useState<string | undefined>();
  const context = cluster?.context;

  const load = useCallback(async () => {
    if (!context) return;
    try {
      setPools((await client.request('ippools.list', { context })).pools);
    } catch (e) {
      setError(messageOf(e));
    }
  }, [client, context]);

  useEffect(() => void load(), [load]);

  // After Apply: ask every node whether it has converged, until all have (or two minutes pass).
  useEffect(() => {
    if (!convergence || convergence.allMs !== undefined || !context || !editing) return;
    let stopped = false;
    const timer = setTimeout(async () => {
      try {
        const result = await client.request('ippools.convergence', { context, name: editing.name, fields: editing.fields });
        if (stopped) return;
        const now = Date.now() - convergence.startedAt;
        const nodes = Object.fromEntries(
          result.nodes.map((n: NodeConvergence) => {
            const before = convergence.nodes[n.node];
            return [n.node, { converged: n.converged, detail: n.detail, ...(n.converged ? { ms: before?.ms ?? now } : {}) }];
          }),
        );
        const all = result.nodes.length > 0 && result.nodes.every((n) => n.converged);
        setConvergence({ ...convergence, nodes, ...(all || now > 120_000 ? { allMs: now } : {}) });
      } catch (e) {
        if (!stopped) setError(messageOf(e));
      }
    }, 250);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, context, convergence, editing]);

  if (!context) {
    return (
      <section aria-labelledby="section-heading">
        <h1 id="section-heading" tabIndex={-1}>
          IP pools
        </h1>
        <p>Connect to a cluster first (Clusters).</p>
      </section>
    );
  }

  const errors = editing ? poolFieldErrors(editing.name, editing.fields) : {};
  const valid = Object.keys(errors).length === 0;
  const setField = <K extends keyof PoolFields>(field: K, value: PoolFields[K]) => {
    setPreview(undefined);
    setDryRun(undefined);
    setEditing((e) => (e ? { ...e, fields: { ...e.fields, [field]: value } } : e));
  };

  const doPreview = async () => {
    if (!editing) return;
    setBusy(true);
    setDryRun(undefined);
    try {
      // The API server's answer (validated against the live CRD, defaulted, nothing stored) beside
      // what each node's planner would change.
      const resourceVersion = editing.resourceVersion ? { resourceVersion: editing.resourceVersion } : {};
      // A new pool has no node state to plan from yet: its dry run alone.
      const [server, nodes] = await Promise.all([
        client.request('ippools.dryRun', { context, name: editing.name, fields: editing.fields, ...resourceVersion }),
        editing.resourceVersion ? client.request('ippools.preview', { context, name: editing.name, fields: editing.fields }) : Promise.resolve(undefined),
      ]);
      setDryRun(server);
      setPreview(nodes?.nodes);
    } catch (e) {
      if (e instanceof ConsoleError && e.code === 'conflict' && e.details?.current) setConflict(JSON.parse(e.details.current) as PoolRow);
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const apply = async (event: FormEvent) => {
    event.preventDefault();
    if (!editing || !valid || !dryRun) return;
    setBusy(true);
    setError(undefined);
    setConflict(undefined);
    const startedAt = Date.now();
    try {
      const saved = await client.request('ippools.save', { context, name: editing.name, fields: editing.fields, ...(editing.resourceVersion ? { resourceVersion: editing.resourceVersion } : {}) });
      setEditing({ name: saved.name, fields: saved.fields, resourceVersion: saved.resourceVersion });
      setConvergence({ startedAt, nodes: {} });
      void load();
    } catch (e) {
      if (e instanceof ConsoleError && e.code === 'conflict' && e.details?.current) setConflict(JSON.parse(e.details.current) as PoolRow);
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (pool: PoolRow) => {
    if (!window.confirm(`Delete IP pool ${pool.name} (${pool.fields.cidr})? Pods keep their addresses; no new ones come from it.`)) return;
    try {
      await client.request('ippools.delete', { context, name: pool.name, resourceVersion: pool.resourceVersion });
      setEditing(undefined);
      void load();
    } catch (e) {
      if (e instanceof ConsoleError && e.code === 'conflict' && e.details?.current) setConflict(JSON.parse(e.details.current) as PoolRow);
      setError(messageOf(e));
    }
  };

  const fieldError = (field: string) => errors[field] && <span className="field-error" id={`err-${field}`}>{errors[field]}</span>;

  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        IP pools
      </h1>
      {error && <p role="alert" className="error">{error}</p>}
      {conflict && (
        <div className="conflict" aria-label="Newer pool on the server">
          <p>The pool on the server now (resourceVersion {conflict.resourceVersion}):</p>
          <dl>
            {Object.entries(conflict.fields).map(([k, v]) => (
              <div key={k} style={{ display: 'contents' }}>
                <dt>{k}</dt>
                <dd>{String(v)}</dd>
              </div>
            ))}
          </dl>
          <button type="button" onClick={() => { setEditing({ name: conflict.name, fields: conflict.fields, resourceVersion: conflict.resourceVersion }); setConflict(undefined); setError(undefined); }}>
            Start again from the newer pool
          </button>
        </div>
      )}
      <table>
        <caption>IP pools of {context}</caption>
        <ColumnHeaders columns={['Name', 'CIDR', 'Block size', 'IPIP mode', 'VXLAN mode', 'NAT outgoing', 'Actions']} />
        <tbody>
          {(pools ?? []).map((p) => (
            <tr key={p.name} data-pool={p.name}>
              <th scope="row">{p.name}</th>
              <td>{p.fields.cidr}</td>
              <td>{p.fields.blockSize}</td>
              <td>{p.fields.ipipMode}</td>
              <td>{p.fields.vxlanMode}</td>
              <td>{p.fields.natOutgoing ? 'true' : 'false'}</td>
              <td className="actions">
                <button type="button" aria-label={`Edit ${p.name}`} onClick={() => { setSwitching(undefined); setEditing({ name: p.name, fields: p.fields, resourceVersion: p.resourceVersion }); setPreview(undefined); setDryRun(undefined); setConvergence(undefined); setConflict(undefined); }}>
                  Edit
                </button>
                <button type="button" aria-label={`Delete ${p.name}`} onClick={() => void remove(p)}>
                  Delete
                </button>
                <button type="button" aria-label={`Staged switch of ${p.name}`} onClick={() => { setSwitching(p.name); setEditing(undefined); }}>
                  Staged switch
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={() => { setEditing({ name: '', fields: blank }); setPreview(undefined); setDryRun(undefined); setConvergence(undefined); }}>
        New pool
      </button>
      {switching && pools?.some((p) => p.name === switching) && (
        <StagedSwitch key={switching} context={context} pool={pools.find((p) => p.name === switching)!} nodes={(cluster?.nodes ?? []).map((n) => n.name)} onEnded={() => void load()} />
      )}
      {editing && (
        <form aria-label="Pool" onSubmit={(e) => void apply(e)} noValidate>
          <h2>{editing.resourceVersion ? `Edit ${editing.name}` : 'New pool'}</h2>
          <div className="fields">
            <label>
              Name
              <input value={editing.name} readOnly={editing.resourceVersion !== undefined} onChange={(e) => setEditing({ ...editing, name: e.target.value })} aria-invalid={!!errors.name} />
              {fieldError('name')}
            </label>
            <label>
              CIDR
              <input value={editing.fields.cidr} readOnly={editing.resourceVersion !== undefined} onChange={(e) => setField('cidr', e.target.value)} aria-invalid={!!errors.cidr} />
              {fieldError('cidr')}
            </label>
            <label>
              Block size
              <input type="number" value={editing.fields.blockSize} readOnly={editing.resourceVersion !== undefined} onChange={(e) => setField('blockSize', Number(e.target.value))} aria-invalid={!!errors.blockSize} />
              {fieldError('blockSize')}
            </label>
            <label>
              IPIP mode
              <select value={editing.fields.ipipMode} onChange={(e) => setField('ipipMode', e.target.value as PoolFields['ipipMode'])} aria-invalid={!!errors.ipipMode}>
                {encapsulationModes.map((m) => <option key={m}>{m}</option>)}
              </select>
              {fieldError('ipipMode')}
            </label>
            <label>
              VXLAN mode
              <select value={editing.fields.vxlanMode} onChange={(e) => setField('vxlanMode', e.target.value as PoolFields['vxlanMode'])} aria-invalid={!!errors.vxlanMode}>
                {encapsulationModes.map((m) => <option key={m}>{m}</option>)}
              </select>
              {fieldError('vxlanMode')}
            </label>
            <label className="check">
              <input type="checkbox" checked={editing.fields.natOutgoing} onChange={(e) => setField('natOutgoing', e.target.checked)} />
              NAT outgoing
            </label>
            <label className="check">
              <input type="checkbox" checked={editing.fields.disabled} onChange={(e) => setField('disabled', e.target.checked)} />
              Disabled
            </label>
          </div>
          <div className="actions">
            <button type="button" disabled={!valid || busy} onClick={() => void doPreview()}>
              Preview
            </button>
            {/* Every change goes through the server's dry run first: Apply follows a Preview of these fields. */}
            <button type="submit" className="primary" disabled={!valid || busy || !dryRun} title={dryRun ? undefined : 'Preview first: the server-side dry run and the plan per node'}>
              Apply
            </button>
          </div>
        </form>
      )}
      {convergence && (
        <table className="convergence">
          <caption>
            {convergence.allMs !== undefined ? `Convergence: every node in ${(convergence.allMs / 1000).toFixed(1)} s` : 'Convergence…'}
          </caption>
          <ColumnHeaders columns={['Node', 'State', 'Time from Apply']} />
          <tbody>
            {Object.entries(convergence.nodes).map(([node, n]) => (
              <tr key={node} data-node={node} data-converged={n.converged}>
                <th scope="row">{node}</th>
                <td className={n.converged ? 'ok' : undefined}>{n.converged ? 'converged' : 'converging'}: {n.detail}</td>
                <td>{n.ms !== undefined ? `${(n.ms / 1000).toFixed(1)} s` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {convergence?.allMs !== undefined && <ConnectivityAfterApply key={convergence.startedAt} context={context} />}
      {/* After the convergence table: the preview stays to compare with what happened. */}
      {dryRun && <ServerDryRun result={dryRun} />}
      {preview && <Preview nodes={preview} />}
    </section>
  );
}
