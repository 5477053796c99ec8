// The doctor: "why can't pod A reach pod B?" (Trace, with the node-pair table), what is wrong on
// the nodes (Scan, with its safe fixes), and everything an expert asks for in one archive
// (Diagnostics bundle). Three tabs, each kept as it was while another is open.
import { useRef, useState, type KeyboardEvent } from 'react';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { BundleSection } from './BundleSection.tsx';
import { ScanSection } from './ScanSection.tsx';
import { TraceSection } from './TraceSection.tsx';
import './doctor.css';

const tools = [
  { id: 'trace', label: 'Trace' },
  { id: 'scan', label: 'Scan' },
  { id: 'bundle', label: 'Diagnostics bundle' },
] as const;
type Tool = (typeof tools)[number]['id'];

export function DoctorPage({ cluster, active }: { cluster?: ConnectedCluster; active: boolean }) {
  const [tool, setTool] = useState<Tool>('trace');
  const tabs = useRef<Record<string, HTMLButtonElement | null>>({});
  const context = cluster?.context;
  const nodes = cluster?.nodes.map((n) => n.name) ?? [];

  // Arrow keys move between the tabs (the ARIA tabs pattern); Tab goes into the open panel.
  const onKey = (event: KeyboardEvent) => {
    const at = tools.findIndex((t) => t.id === tool);
    const next = event.key === 'ArrowRight' ? at + 1 : event.key === 'ArrowLeft' ? at - 1 : event.key === 'Home' ? 0 : event.key === 'End' ? tools.length - 1 : undefined;
    if (next === undefined) return;
    event.preventDefault();
    const id = tools[(next + tools.length) % tools.length]!.id;
    setTool(id);
    tabs.current[id]?.focus();
  };

  return (
    <section aria-labelledby="section-heading" className="doctor">
      <h1 id="section-heading" tabIndex={-1}>
        Doctor
      </h1>
      <p className="hint">Why can&apos;t a pod reach another, and what is wrong on the nodes: read over SSH from each node and from the cluster&apos;s API.</p>
      {!context && <p>Connect to a cluster first (Clusters).</p>}
      {context && (
        <div key={context}>
          <div className="doctor-tabs" role="tablist" aria-label="Doctor tools" onKeyDown={onKey}>
            {tools.map((t) => (
              <button
                key={t.id}
                ref={(element) => {
                  tabs.current[t.id] = element;
                }}
                type="button"
                role="tab"
                id={`doctor-tab-${t.id}`}
                aria-controls={`doctor-panel-${t.id}`}
                aria-selected={tool === t.id}
                tabIndex={tool === t.id ? 0 : -1}
                className={tool === t.id ? 'primary' : undefined}
                onClick={() => setTool(t.id)}
              >
                {t.label}
              </button>
            ))}
          </div>
          <div role="tabpanel" id="doctor-panel-trace" aria-labelledby="doctor-tab-trace" hidden={tool !== 'trace'}>
            <TraceSection context={context} active={active} />
          </div>
          <div role="tabpanel" id="doctor-panel-scan" aria-labelledby="doctor-tab-scan" hidden={tool !== 'scan'}>
            <ScanSection context={context} nodes={nodes} />
          </div>
          <div role="tabpanel" id="doctor-panel-bundle" aria-labelledby="doctor-tab-bundle" hidden={tool !== 'bundle'}>
            <BundleSection context={context} nodes={nodes} />
          </div>
        </div>
      )}
    </section>
  );
}
