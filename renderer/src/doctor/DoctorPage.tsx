// The doctor: "why can't pod A reach pod B?". A source and a destination (pods by name or
// address, an optional TCP port), then the path hop by hop as the kernels will forward it, each
// hop with the evidence it was judged on and its verdict, and one final verdict with its code.
// `#/doctor?from=pod-1&to=pod-3` opens a trace directly (the connectivity matrix links its cells here).
import type { ConnectedCluster } from '../App.tsx';
import { TraceSection } from './TraceSection.tsx';
import './doctor.css';

export function DoctorPage({ cluster, active }: { cluster?: ConnectedCluster; active: boolean }) {
  const context = cluster?.context;
  return (
    <section aria-labelledby="section-heading" className="doctor">
      <h1 id="section-heading" tabIndex={-1}>
        Doctor
      </h1>
      <p className="hint">Why can&apos;t a pod reach another? The path as the kernels will forward it, read over SSH from each node and from the cluster&apos;s API.</p>
      {!context && <p>Connect to a cluster first (Clusters).</p>}
      {context && <TraceSection key={context} context={context} active={active} />}
    </section>
  );
}
