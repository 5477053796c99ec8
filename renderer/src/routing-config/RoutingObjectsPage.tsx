// The objects a routing change touches (IPPool, BGPPeer, BGPConfiguration, FelixConfiguration),
// each edited as its spec in YAML. As it is typed, the spec is checked against the cluster's own
// CRD (read live by the backend); Dry run sends it with dryRun=All and shows, field by field, the
// stored spec beside what the API server would store, and for an IP pool the dataplane plan per
// node beside it. Apply is offered only for the text that was dry-run, with nothing refused.
import { useEffect, useState } from 'react';
import { parse, stringify } from 'yaml';
import type { NodePreview, PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { routingKinds, type RoutingDryRun, type RoutingKind, type RoutingObject, type SchemaIssue } from '../../../shared/api/routing-config-contract.ts';
import { normalizeMode } from '../../../shared/model/modes.ts';
import { messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { Preview } from '../cluster/PoolChangeViews.tsx';
import '../cluster/cluster.css';
import './routing-config.css';

interface Editing {
  name: string;
  text: string;
  resourceVersion?: string;
}

/** The spec's YAML as an object, or why it is not one. */
function specOf(text: string): { spec?: Record<string, unknown>; error?: string } {
  try {
    const value = parse(text) as unknown;
    if (value === null || value === undefined) return { spec: {} };
    if (typeof value !== 'object' || Array.isArray(value)) return { error: 'The spec is a mapping of fields (field: value), not a list or a single value.' };
    return { spec: value as Record<string, unknown> };
  } catch (error) {
    return { error: `Not YAML: ${messageOf(error)}` };
  }
}

/** An IP pool's spec as the preview's fields, when it has what the planner needs. */
function poolFieldsOf(spec: Record<string, unknown>): PoolFields | undefined {
  if (typeof spec.cidr !== 'string') return undefined;
  const mode = (value: unknown) => normalizeMode(typeof value === 'string' && ['Never', 'Always', 'CrossSubnet', ''].includes(value) ? (value as PoolFields['ipipMode']) : 'Never');
  return {
    cidr: spec.cidr,
    blockSize: typeof spec.blockSize === 'number' ? spec.blockSize : 26,
    ipipMode: mode(spec.ipipMode),
    vxlanMode: mode(spec.vxlanMode),
    natOutgoing: spec.natOutgoing === true,
    disabled: spec.disabled === true,
  };
}

export function SpecDiff({ result }: { result: RoutingDryRun }) {
  return (
    <section className="dry-run" aria-label="What the API server would store">
      <h3>{result.created ? 'A new object: what the API server would store' : 'Stored, and what the API server would store'} (server-side dry run, nothing stored)</h3>
      {result.changes.length === 0 ? (
        <p>No change to the stored object.</p>
      ) : (
        <table>
          <ColumnHeaders columns={['Field', 'Stored', 'After Apply']} />
          <tbody>
            {result.changes.map((c) => (
              <tr key={c.field} data-field={c.field}>
                <td>spec.{c.field}</td>
                <td className="removed">{c.before ?? '(not set)'}</td>
                <td className="added">{c.after ?? '(removed)'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function RoutingObjectsPage({ cluster }: { cluster?: ConnectedCluster }) {
  const client = useClient();
  const context = cluster?.context;
  const [kind, setKind] = useState<RoutingKind>('BGPPeer');
  const [items, setItems] = useState<RoutingObject[] | undefined>();
  const [editing, setEditing] = useState<Editing | undefined>();
  const [issues, setIssues] = useState<{ text: string; list: SchemaIssue[]; crd: string } | undefined>();
  const [dryRun, setDryRun] = useState<{ text: string; name: string; result: RoutingDryRun; preview?: NodePreview[] } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const load = async () => {
    if (!context) return;
    try {
      setItems((await client.request('routingConfig.list', { context, kind })).items);
    } catch (e) {
      setItems([]);
      setError(messageOf(e));
    }
  };
  useEffect(() => {
    setEditing(undefined);
    setDryRun(undefined);
    setError(undefined);
    void load();
  }, [context, kind]);

  const parsed = editing ? specOf(editing.text) : {};
  // As it is typed (after a pause): the live CRD's verdict on the spec.
  useEffect(() => {
    if (!context || !editing || !parsed.spec) return;
    const text = editing.text;
    const spec = parsed.spec;
    const timer = setTimeout(async () => {
      try {
        const answer = await client.request('routingConfig.validate', { context, kind, spec });
        setIssues({ text, list: answer.issues, crd: `${answer.crd} ${answer.version}` });
      } catch (e) {
        setError(messageOf(e));
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [client, context, kind, editing?.text]);

  if (!context) {
    return (
      <section aria-labelledby="section-heading">
        <h1 id="section-heading" tabIndex={-1}>
          Routing objects
        </h1>
        <p>Connect to a cluster first (Clusters).</p>
      </section>
    );
  }

  const open = (object?: RoutingObject) => {
    setEditing(object ? { name: object.name, text: stringify(object.spec), resourceVersion: object.resourceVersion } : { name: '', text: '' });
    setDryRun(undefined);
    setIssues(undefined);
    setSaved(undefined);
    setError(undefined);
  };

  const currentIssues = issues && editing && issues.text === editing.text ? issues.list : undefined;
  const dryRunCurrent = dryRun && editing && dryRun.text === editing.text && dryRun.name === editing.name;

  const runDryRun = async () => {
    if (!editing || !parsed.spec) return;
    setBusy(true);
    setError(undefined);
    try {
      const resourceVersion = editing.resourceVersion ? { resourceVersion: editing.resourceVersion } : {};
      const fields = kind === 'IPPool' && editing.resourceVersion ? poolFieldsOf(parsed.spec) : undefined;
      const [result, preview] = await Promise.all([
        client.request('routingConfig.dryRun', { context, kind, name: editing.name, spec: parsed.spec, ...resourceVersion }),
        fields ? client.request('ippools.preview', { context, name: editing.name, fields }).then((p) => p.nodes) : Promise.resolve(undefined),
      ]);
      setDryRun({ text: editing.text, name: editing.name, result, ...(preview ? { preview } : {}) });
    } catch (e) {
      setError(messageOf(e));
      if (e instanceof ConsoleError && e.code === 'invalid-field' && e.details) setIssues({ text: editing.text, list: Object.entries(e.details).map(([path, message]) => ({ path, message })), crd: issues?.crd ?? '' });
    } finally {
      setBusy(false);
    }
  };

  const apply = async () => {
    if (!editing || !parsed.spec || !dryRunCurrent) return;
    setBusy(true);
    setError(undefined);
    try {
      const object = await client.request('routingConfig.apply', { context, kind, name: editing.name, spec: parsed.spec, ...(editing.resourceVersion ? { resourceVersion: editing.resourceVersion } : {}) });
      setSaved(`${kind} ${object.name} applied (resourceVersion ${object.resourceVersion}).`);
      setEditing({ name: object.name, text: stringify(object.spec), resourceVersion: object.resourceVersion });
      setDryRun(undefined);
      void load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        Routing objects
      </h1>
      <p className="hint">Every change is checked against the cluster's own CRD as you type, then sent as a server-side dry run: Apply sends exactly what was dry-run.</p>
      <div className="toolbar" role="tablist" aria-label="Kind">
        {routingKinds.map((k) => (
          <button key={k} type="button" role="tab" aria-selected={k === kind} className={k === kind ? 'primary' : undefined} onClick={() => setKind(k)}>
            {k}
          </button>
        ))}
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {saved && <p role="status">{saved}</p>}
      <table>
        <caption>{kind} objects of {context}</caption>
        <ColumnHeaders columns={['Name', 'resourceVersion', 'Fields set', 'Actions']} />
        <tbody>
          {(items ?? []).map((o) => (
            <tr key={o.name} data-name={o.name}>
              <th scope="row">{o.name}</th>
              <td>{o.resourceVersion}</td>
              <td>{Object.keys(o.spec).sort().join(', ')}</td>
              <td className="actions">
                <button type="button" aria-label={`Edit ${o.name}`} onClick={() => open(o)}>
                  Edit
                </button>
              </td>
            </tr>
          ))}
          {items?.length === 0 && (
            <tr>
              <td colSpan={4}>None yet.</td>
            </tr>
          )}
        </tbody>
      </table>
      <button type="button" onClick={() => open()}>
        New {kind}
      </button>
      {editing && (
        <form aria-label={`${kind} spec`} onSubmit={(e) => e.preventDefault()} noValidate>
          <h2>{editing.resourceVersion ? `Edit ${kind} ${editing.name}` : `New ${kind}`}</h2>
          <label>
            Name
            <input value={editing.name} readOnly={editing.resourceVersion !== undefined} onChange={(e) => setEditing({ ...editing, name: e.target.value })} />
          </label>
          <label className="spec-editor">
            spec (YAML)
            <textarea value={editing.text} rows={Math.max(8, editing.text.split('\n').length + 2)} spellCheck={false} onChange={(e) => setEditing({ ...editing, text: e.target.value })} aria-invalid={!!parsed.error || (currentIssues?.length ?? 0) > 0} />
          </label>
          {parsed.error && <p className="field-error">{parsed.error}</p>}
          {currentIssues && (
            <div className="schema-check" aria-label="Schema check" data-issues={currentIssues.length}>
              {currentIssues.length === 0 ? (
                <p className="ok">Matches the cluster's CRD ({issues?.crd}).</p>
              ) : (
                <ul>
                  {currentIssues.map((i) => (
                    <li key={i.path + i.message} className="field-error">
                      <code>{i.path}</code>: {i.message}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <div className="actions">
            <button type="button" disabled={busy || !parsed.spec || !editing.name || (currentIssues?.length ?? 0) > 0} onClick={() => void runDryRun()}>
              Dry run
            </button>
            <button type="button" className="primary" disabled={busy || !dryRunCurrent || (currentIssues?.length ?? 0) > 0} onClick={() => void apply()} title={dryRunCurrent ? undefined : 'Dry run this text first'}>
              Apply
            </button>
          </div>
        </form>
      )}
      {dryRunCurrent && dryRun && (
        <div className="dry-run-answer">
          <SpecDiff result={dryRun.result} />
          {dryRun.preview && (
            <section aria-label="Dataplane plan">
              <h3>The dataplane plan per node (the agents' own planner)</h3>
              <Preview nodes={dryRun.preview} />
            </section>
          )}
        </div>
      )}
    </section>
  );
}
