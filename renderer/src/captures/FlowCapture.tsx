// One packet, both ends: a flow between two pods captured at every hop on both nodes at once (each
// pod's veth, the tunnel device, the underlay), each inner packet matched at every hop. The view:
// the path per direction with the packets seen at each hop and the latency between hops, the list
// of packets with their time at each hop (a lost one ends at the last hop that saw it), one
// packet's journey hop by hop with its bytes at any hop, and the whole exported as one pcapng.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { DirectionReport, FlowPointState, Journey, JourneyHop } from '../../../shared/api/capture-contract.ts';
import type { RequestResult } from '../../../shared/api/console-contract.ts';
import type { FlowPlan } from '../../../shared/capture/flow-hops.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { downloadFile } from '../components/download-file.ts';
import { PacketDetail } from './PacketDetail.tsx';

type Report = RequestResult<'capture.flowReport'>;
type StatusChoice = 'all' | 'complete' | 'vanished' | 'missed' | 'unjudged';

interface Flow {
  flowId: string;
  plan: FlowPlan;
  points: FlowPointState[];
  predicted: { ok: boolean; code: string; message: string };
  running: boolean;
}

const encapWords: Record<FlowPlan['forward']['encap'], string> = { ipip: 'IP-in-IP', vxlan: 'VXLAN', direct: 'direct (pod addresses on the wire)', local: 'on one node' };

/** Microseconds as people read them. */
function microseconds(us: number): string {
  if (Math.abs(us) >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  if (Math.abs(us) >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return `${us.toFixed(us < 10 ? 1 : 0)} µs`;
}

function timeOfDay(originSec: number, us: number): string {
  const t = originSec + us / 1e6;
  const d = new Date(Math.floor(t * 1000));
  const micro = String(Math.floor((t % 1) * 1e6)).padStart(6, '0');
  return `${d.toISOString().slice(11, 19)}.${micro}`;
}

function shapeWords(h: JourneyHop): string {
  if (h.shape === 'split') return `cut into ${h.count} packets`;
  if (h.shape === 'joined') return h.count > 1 ? `inside ${h.count} larger packets` : 'inside a larger packet';
  return '';
}

/** What happened to the packet at hop `k`: left the pod, into the tunnel, encapsulated to ..., arrived, decapsulated, reached the pod. */
function hopWords(plan: FlowPlan, hops: number[], k: number, h: JourneyHop): string {
  const p = plan.points[hops[k]!]!;
  const outbound = k < hops.length / 2;
  const pod = p.title.split("'")[0];
  if (p.role === 'pod') return k === 0 ? `left ${pod}` : `reached ${pod}`;
  if (p.role === 'tunnel') return outbound ? 'routed into the tunnel' : 'decapsulated';
  if (h.outer) return outbound ? `encapsulated: ${h.outer}` : `arrived: ${h.outer}`;
  return outbound ? 'on the wire (pod addresses)' : 'arrived (pod addresses)';
}

const statusWords: Record<Journey['status'], string> = { complete: 'every hop', vanished: 'vanished', missed: 'missed at a hop', unjudged: 'not judged' };

function HopPath({ plan, report, direction }: { plan: FlowPlan; report: DirectionReport; direction: 'forward' | 'reverse' }) {
  const d = direction === 'forward' ? plan.forward : plan.reverse;
  return (
    <figure className="hop-path" aria-label={`Path ${report.label}`}>
      <figcaption>
        <strong>{report.label}</strong> ({encapWords[d.encap]}
        {d.outerSrc ? `, outer ${d.outerSrc} → ${d.outerDst}` : ''}): {report.journeys} packets, <span data-testid={`${direction}-complete`}>{report.complete}</span> seen at every hop
        {report.vanished > 0 && <span className="lost"> · {report.vanished} vanished</span>}
        {report.missed > 0 && <span className="lost"> · {report.missed} missed by a capture</span>}
        {report.unjudged > 0 && <span className="hint"> · {report.unjudged} outside the capture window</span>}
        {report.endToEnd && report.endToEnd.count > 0 && (
          <>
            {' '}
            · end to end p50 {microseconds(report.endToEnd.p50Us)}, p99 {microseconds(report.endToEnd.p99Us)}
          </>
        )}
      </figcaption>
      <ol className="hops" style={{ gridTemplateColumns: `${'minmax(0, 1fr) auto '.repeat(Math.max(0, d.hops.length - 1))}minmax(0, 1fr)` }}>
        {d.hops.map((point, k) => {
          const p = plan.points[point]!;
          const leg = report.legs[k];
          return (
            <li key={point} className={`hop role-${p.role}`}>
              <div className="hop-box" title={p.title}>
                <span className="hop-name">
                  {p.node}/<wbr />
                  {p.iface}
                </span>
                <span className="hop-role">{p.role === 'pod' ? 'pod veth' : p.role}</span>
                <span className="hop-seen">
                  {report.seen[k]} of {report.journeys}
                </span>
              </div>
              {leg && k < d.hops.length - 1 && (
                <div className="hop-leg" aria-label={`${p.name} to ${plan.points[d.hops[k + 1]!]!.name}`}>
                  <span>→</span>
                  <span>p50 {microseconds(leg.p50Us)}</span>
                  <span>p99 {microseconds(leg.p99Us)}</span>
                </div>
              )}
            </li>
          );
        })}
      </ol>
    </figure>
  );
}

function JourneyDetail({ plan, report, journey, onPacket }: { plan: FlowPlan; report: Report; journey: Journey; onPacket: (point: number, n: number) => void }) {
  const d = journey.direction === 'forward' ? plan.forward : plan.reverse;
  const first = journey.hops.find((h) => h)?.t ?? 0;
  let previous: number | undefined;
  return (
    <section className="journey" aria-label={`Packet ${journey.id} hop by hop`}>
      <h3>
        Packet {journey.id}: {journey.summary}
      </h3>
      <ol className="journey-hops">
        {d.hops.map((point, k) => {
          const p = plan.points[point]!;
          const h = journey.hops[k];
          const step = h && previous !== undefined ? h.t - previous : undefined;
          if (h) previous = h.t;
          const lostHere = !h && journey.status === 'vanished' && k === journey.lastSeen + 1;
          return (
            <li key={point} className={h ? (h.coverage < 1 ? 'partial' : 'seen') : 'unseen'}>
              <span className="j-name">{p.name}</span>
              {h ? (
                <>
                  <span className="j-time">
                    {timeOfDay(report.origin, h.t)}
                    {k > 0 && step !== undefined && <> (+{microseconds(step)})</>}
                  </span>
                  <span className="j-what">
                    {hopWords(plan, d.hops, k, h)}
                    {shapeWords(h) && ` · ${shapeWords(h)}`}
                    {h.coverage < 1 && ` · ${Math.round(h.coverage * 100)}% of its bytes seen`}
                  </span>
                  <span className="j-packets">
                    {h.packets.slice(0, 8).map((n) => (
                      <button key={n} type="button" onClick={() => onPacket(point, n)} aria-label={`Packet ${n} of ${p.name}`}>
                        #{n}
                      </button>
                    ))}
                    {h.count > 8 && <span> +{h.count - 8}</span>}
                  </span>
                </>
              ) : (
                <span className="j-what lost">{lostHere ? `not seen here: lost after ${plan.points[d.hops[journey.lastSeen]!]!.name}` : 'not seen here'}</span>
              )}
            </li>
          );
        })}
      </ol>
      {journey.status === 'complete' && <p className="hint">End to end: {microseconds((journey.hops.at(-1)?.t ?? first) - first)}.</p>}
    </section>
  );
}

export function FlowCaptureSection({ cluster }: { cluster?: ConnectedCluster }) {
  const client = useClient();
  const context = cluster?.context;
  const [source, setSource] = useState('');
  const [destination, setDestination] = useState('');
  const [protocol, setProtocol] = useState<'' | 'tcp' | 'udp' | 'icmp'>('');
  const [port, setPort] = useState('');
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [flow, setFlow] = useState<Flow | undefined>();
  const [report, setReport] = useState<Report | undefined>();
  const [filter, setFilter] = useState('');
  const [status, setStatus] = useState<StatusChoice>('all');
  const [limit, setLimit] = useState(200);
  const [selected, setSelected] = useState<number | undefined>();
  const [packet, setPacket] = useState<{ captureId: string; n: number; name: string } | undefined>();

  const flowId = flow?.flowId;
  const running = flow?.running ?? false;

  const refresh = useCallback(async () => {
    if (!flowId) return;
    try {
      const r = await client.request('capture.flowReport', { flowId, ...(filter.trim() ? { filter } : {}), status, limit });
      setReport(r);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  }, [client, flowId, filter, status, limit]);

  // Progress from the backend; while it runs, the report every second.
  useEffect(() => {
    if (!flowId) return;
    return client.on('capture.flowProgress', (e) => {
      if (e.flowId !== flowId) return;
      setFlow((f) => (f && f.flowId === e.flowId ? { ...f, points: e.points, running: e.running } : f));
    });
  }, [client, flowId]);
  useEffect(() => {
    if (!flowId) return;
    // One report at a time: the next is asked for a second after the last came (a large flow takes a while to correlate).
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cancelled = false;
    const tick = async () => {
      await refresh();
      if (!cancelled && running) timer = setTimeout(() => void tick(), 1000);
    };
    void tick();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }, [flowId, running, refresh]);

  const start = async (event: FormEvent) => {
    event.preventDefault();
    if (!context) return;
    setStarting(true);
    setError(undefined);
    setNotice(undefined);
    try {
      if (flow) await client.request('capture.flowDiscard', { flowId: flow.flowId }).catch(() => undefined);
      const portNumber = port.trim() ? Number(port) : undefined;
      const started = await client.request('capture.flowStart', { context, source: source.trim(), destination: destination.trim(), ...(protocol ? { protocol } : {}), ...(portNumber ? { port: portNumber } : {}) });
      setFlow({ ...started, running: true });
      setReport(undefined);
      setSelected(undefined);
      setPacket(undefined);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setStarting(false);
    }
  };

  const stop = async () => {
    if (!flow) return;
    try {
      await client.request('capture.flowStop', { flowId: flow.flowId });
      setFlow((f) => (f ? { ...f, running: false } : f));
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  };

  const discard = async () => {
    if (!flow) return;
    await client.request('capture.flowDiscard', { flowId: flow.flowId }).catch(() => undefined);
    setFlow(undefined);
    setReport(undefined);
    setSelected(undefined);
    setPacket(undefined);
  };

  const exportFlow = async () => {
    if (!flow) return;
    setNotice(undefined);
    try {
      const result = await client.request('capture.flowExport', { flowId: flow.flowId });
      if (result.kind === 'download') {
        downloadFile(result.fileName, result.base64, 'application/vnd.tcpdump.pcap');
        setNotice(`Exported ${result.packets} packets as ${result.fileName}: one interface per node and hop.`);
      } else if (result.kind === 'saved') setNotice(`Saved ${result.packets} packets to ${result.path}.`);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  };

  const plan = flow?.plan;
  const journey = report?.journeys.find((j) => j.id === selected);
  const points = report?.points ?? flow?.points ?? [];

  return (
    <section className="flow-capture" aria-labelledby="flow-heading">
      <h2 id="flow-heading">Follow a flow at both ends</h2>
      <p className="hint">
        tcpdump at every hop of the path between two pods at once (each pod&apos;s veth, the tunnel device, the underlay on both nodes, as the doctor reads the path), each packet
        matched at every hop by its addresses, ports, IP ID and TCP sequence.
      </p>
      {!context ? (
        <p>Connect to a cluster first (Clusters): the path is read from the cluster and its nodes.</p>
      ) : (
        <form className="flow-form" onSubmit={(e) => void start(e)} aria-label="Follow a flow">
          <label>
            Source pod <input name="flow-source" value={source} onChange={(e) => setSource(e.target.value)} placeholder="pod-1 or namespace/pod" required />
          </label>
          <label>
            Destination pod <input name="flow-destination" value={destination} onChange={(e) => setDestination(e.target.value)} placeholder="a pod on another node" required />
          </label>
          <label>
            Protocol
            <select value={protocol} onChange={(e) => setProtocol(e.target.value as typeof protocol)}>
              <option value="">any</option>
              <option value="tcp">TCP</option>
              <option value="udp">UDP</option>
              <option value="icmp">ICMP</option>
            </select>
          </label>
          <label>
            Port <input name="flow-port" value={port} onChange={(e) => setPort(e.target.value)} inputMode="numeric" pattern="[0-9]*" size={6} placeholder="any" />
          </label>
          <button type="submit" className="primary" disabled={starting || running}>
            {starting ? 'Starting at every hop…' : 'Follow flow'}
          </button>
        </form>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {notice && <p role="status">{notice}</p>}

      {flow && plan && (
        <>
          <div className="flow-status">
            <p role="status">
              {running ? 'Following' : 'Followed'} {plan.source.pod} ({plan.source.node}) ↔ {plan.destination.pod} ({plan.destination.node}): {encapWords[plan.forward.encap]}
              {plan.vni !== undefined ? `, VNI ${plan.vni}` : ''}, {plan.points.length} capture points{running ? ' · live' : ' · stopped'}.
            </p>
            <p className={flow.predicted.ok ? 'hint' : 'error'}>The doctor&apos;s reading of the path: {flow.predicted.message}</p>
            {plan.notes.map((n) => (
              <p key={n} className="hint">
                {n}
              </p>
            ))}
            <span className="actions">
              {running ? (
                <button type="button" onClick={() => void stop()}>
                  Stop flow
                </button>
              ) : (
                <button type="button" onClick={() => void discard()}>
                  Discard flow
                </button>
              )}
              <button type="button" onClick={() => void exportFlow()} disabled={points.every((p) => p.captured === 0)}>
                Export flow (pcapng)
              </button>
            </span>
          </div>
          <table className="flow-points" aria-label="Capture points">
            <thead>
              <tr>
                <th>Point</th>
                <th>What</th>
                <th>Capture filter (on the node)</th>
                <th>Packets</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {plan.points.map((p, i) => (
                <tr key={p.name}>
                  <th scope="row">{p.name}</th>
                  <td>{p.title}</td>
                  <td>
                    <code>{p.filter}</code>
                  </td>
                  <td className="number">{points[i]?.captured ?? 0}</td>
                  <td className={points[i]?.error ? 'error' : undefined}>{points[i]?.state === 'ended' ? (points[i]?.reason ?? 'ended') : 'listening'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {report && (
            <>
              <div className="hop-paths">
                <HopPath plan={plan} report={report.directions[0]!} direction="forward" />
                <HopPath plan={plan} report={report.directions[1]!} direction="reverse" />
              </div>
              <div className="journey-filters">
                <label className="display-filter grow">
                  Display filter
                  <input
                    value={filter}
                    onChange={(e) => setFilter(e.target.value)}
                    placeholder={`e.g. ip.dst == ${plan.destination.ip}, icmp, tcp.port == 80${plan.vni !== undefined ? `, vxlan.vni == ${plan.vni}` : ''}, outer.src == ${plan.forward.outerSrc ?? '10.0.0.1'}`}
                    aria-invalid={report.filterError ? true : undefined}
                    className={report.filterError ? 'invalid' : filter ? 'valid' : undefined}
                  />
                </label>
                <label>
                  Packets
                  <select value={status} onChange={(e) => setStatus(e.target.value as StatusChoice)}>
                    <option value="all">all</option>
                    <option value="complete">seen at every hop</option>
                    <option value="vanished">vanished</option>
                    <option value="missed">missed by a capture</option>
                    <option value="unjudged">outside the window</option>
                  </select>
                </label>
              </div>
              {report.filterError && <p className="error">{report.filterError}</p>}
              <table className="journeys" aria-label="Packets hop by hop">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>Way</th>
                    <th>Packet</th>
                    {plan.points.map((p) => (
                      <th key={p.name} className="hop-col">
                        {p.node}/<wbr />
                        {p.iface}
                      </th>
                    ))}
                    <th>Seen</th>
                  </tr>
                </thead>
                <tbody>
                  {report.journeys.map((j) => {
                    const d = j.direction === 'forward' ? plan.forward : plan.reverse;
                    const t0 = j.hops.find((h) => h)?.t ?? 0;
                    return (
                      <tr key={j.id} className={`status-${j.status}${j.id === selected ? ' selected' : ''}`} aria-selected={j.id === selected} onClick={() => (setSelected(j.id), setPacket(undefined))}>
                        <td className="number">{j.id}</td>
                        <td>{j.direction === 'forward' ? '→' : '←'}</td>
                        <td className="j-summary">{j.summary}</td>
                        {plan.points.map((_, point) => {
                          const k = d.hops.indexOf(point);
                          const h = k >= 0 ? j.hops[k] : undefined;
                          return (
                            <td key={point} className={`hop-col ${h ? 'seen' : k >= 0 ? 'unseen' : ''}`}>
                              {h ? (h.t === t0 ? timeOfDay(report.origin, h.t).slice(3) : `+${microseconds(h.t - t0)}`) : k >= 0 ? '—' : ''}
                              {h && h.count > 1 ? ` ×${h.count}` : ''}
                            </td>
                          );
                        })}
                        <td>{j.status === 'vanished' ? `lost after ${plan.points[d.hops[j.lastSeen] ?? d.hops[0]!]!.name}` : statusWords[j.status]}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              <p className="hint">
                {report.journeys.length} of {report.total} packets shown
                {report.total > report.journeys.length && (
                  <>
                    {' '}
                    <button type="button" onClick={() => setLimit((l) => Math.min(5000, l * 4))}>
                      Show more
                    </button>
                  </>
                )}
                {report.unmatched.some((n) => n > 0) && ` · not part of the flow: ${report.unmatched.map((n, i) => (n > 0 ? `${n} on ${plan.points[i]!.name}` : '')).filter(Boolean).join(', ')}`}
              </p>
              {journey && (
                <JourneyDetail
                  plan={plan}
                  report={report}
                  journey={journey}
                  onPacket={(point, n) => {
                    const captureId = points[point]?.captureId;
                    if (captureId) setPacket({ captureId, n, name: plan.points[point]!.name });
                  }}
                />
              )}
              {packet && (
                <div aria-label={`Packet ${packet.n} of ${packet.name}`}>
                  <h4>
                    Packet {packet.n} of {packet.name}
                  </h4>
                  <PacketDetail key={`${packet.captureId}-${packet.n}`} captureId={packet.captureId} n={packet.n} />
                </div>
              )}
            </>
          )}
        </>
      )}
    </section>
  );
}
