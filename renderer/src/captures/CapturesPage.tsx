// Captures: follow one flow between two pods at every hop on both nodes (FlowCapture.tsx); or
// start tcpdump on any connected node's interface with a capture filter (or a preset per routing
// mode), watch the packets decoded live in Wireshark's three panes, filter them, chart them by
// encapsulation, and export them as pcap or pcapng.
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { PacketRow } from '../../../shared/api/capture-contract.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { compileDisplayFilter } from '../../../shared/packets/display-filter.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import { useSsh } from '../ssh/ssh-state.tsx';
import { NodePicker } from '../components/NodePicker.tsx';
import { downloadFile } from '../components/download-file.ts';
import { CaptureFeed, type CaptureInfo } from './capture-feed.ts';
import { FlowCaptureSection } from './FlowCapture.tsx';
import { PacketDetail } from './PacketDetail.tsx';
import { PacketList } from './PacketList.tsx';
import { capturePresets } from './presets.ts';
import { TrafficChart } from './TrafficChart.tsx';
import './captures.css';

/** Rows passing the display filter, extended incrementally as packets arrive (never refiltering all of them per frame). */
function useFiltered(rows: PacketRow[] | undefined, filterText: string, version: number): { rows: PacketRow[]; error?: string } {
  const cache = useRef<{ source?: PacketRow[]; filter: string; done: number; out: PacketRow[] }>({ filter: '', done: 0, out: [] });
  const compiled = useMemo(() => compileDisplayFilter(filterText), [filterText]);
  if (!rows) return { rows: [] };
  if (!compiled.ok) return { rows: [], error: compiled.error };
  if (filterText.trim() === '') return { rows };
  const c = cache.current;
  if (c.source !== rows || c.filter !== filterText) {
    cache.current = { source: rows, filter: filterText, done: 0, out: [] };
  }
  const now = cache.current;
  for (let i = now.done; i < rows.length; i++) if (compiled.test(rows[i]!)) now.out.push(rows[i]!);
  now.done = rows.length;
  void version; // the version makes the caller re-render; the rows array itself is appended in place
  return { rows: now.out.slice() };
}

export function CapturesPage({ active: visible, cluster }: { active: boolean; cluster?: ConnectedCluster }) {
  const client = useClient();
  const ssh = useSsh();
  const feed = useMemo(() => new CaptureFeed(client), [client]);
  useEffect(() => feed.attach(), [feed]);
  const version = useSyncExternalStore(feed.subscribe, feed.getVersion);

  const [nodeId, setNodeId] = useState('');
  const [iface, setIface] = useState('ens5');
  const [filter, setFilter] = useState('');
  // tcpdump's -s on the node: 0 keeps whole packets; a header's worth (96, 128) carries more packets for the same bound.
  const [snapLen, setSnapLen] = useState('0');
  const [preset, setPreset] = useState('');
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [active, setActive] = useState<string | undefined>();
  const [selected, setSelected] = useState<number | undefined>();
  const [displayFilter, setDisplayFilter] = useState('');
  const [notice, setNotice] = useState<string | undefined>();
  const [sideBySide, setSideBySide] = useState(false);

  const captures = [...feed.infos.values()];
  const current = active ? feed.infos.get(active) : undefined;
  const filtered = useFiltered(active ? feed.rows.get(active) : undefined, displayFilter, version);
  const chosenPreset = capturePresets.find((p) => p.id === preset);
  // The chart draws once a second at most: recharts re-rendering on every animation frame of a
  // flood would take the main thread from the list.
  const chartSecond = Math.floor(Date.now() / 1000);
  const chartSeconds = active ? feed.seconds.get(active) : undefined;
  const chartSamples = chartSeconds?.length ?? 0;
  const ended = current?.state === 'ended';
  const chart = useMemo(
    () => <TrafficChart seconds={chartSeconds ? chartSeconds.slice() : []} />,
    // Redrawn per second, per new sample and at the end: not per frame.
    [active, chartSecond, chartSamples, ended],
  );

  const applyPreset = (id: string) => {
    setPreset(id);
    const p = capturePresets.find((x) => x.id === id);
    if (!p) return;
    setIface(p.iface);
    setFilter(p.filter);
    const node = ssh.nodes.find((n) => n.name === p.node);
    if (node) setNodeId(node.id);
  };

  const start = async () => {
    const node = ssh.nodes.find((n) => n.id === nodeId);
    if (!node) return;
    setError(undefined);
    setNotice(undefined);
    setStarting(true);
    try {
      if (ssh.connection(node.id).state !== 'connected' && !(await ssh.connect(node))) {
        const c = ssh.connection(node.id);
        setError(c.state === 'failed' ? c.message : `Cannot connect to ${node.name}; see Nodes for details.`);
        return;
      }
      const started = await client.request('capture.start', { nodeId: node.id, interface: iface, filter, ...(Number(snapLen) > 0 ? { snapLen: Number(snapLen) } : {}) });
      const info: CaptureInfo = { id: started.captureId, node: started.node, nodeId: node.id, iface: started.interface, filter: started.filter, command: started.command, state: 'running', captured: 0, bytes: 0, skipped: 0, dropped: 0, droppedBytes: 0 };
      feed.add(info);
      setActive(info.id);
      setSelected(undefined);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    } finally {
      setStarting(false);
    }
  };

  const stop = async (id: string) => {
    try {
      await client.request('capture.stop', { captureId: id });
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  };

  const discard = async (id: string) => {
    await client.request('capture.discard', { captureId: id }).catch(() => undefined);
    feed.remove(id);
    if (active === id) setActive(undefined);
  };

  const exportAs = async (ids: string[], format: 'pcap' | 'pcapng') => {
    setNotice(undefined);
    try {
      const result = await client.request('capture.export', { captureIds: ids, format });
      if (result.kind === 'download') {
        downloadFile(result.fileName, result.base64, 'application/vnd.tcpdump.pcap');
        setNotice(`Exported ${result.packets} packets as ${result.fileName}.`);
      } else if (result.kind === 'saved') setNotice(`Saved ${result.packets} packets to ${result.path}.`);
    } catch (e) {
      if (!isTransportLoss(e)) setError(messageOf(e));
    }
  };

  return (
    <section aria-labelledby={visible ? 'section-heading' : undefined} className="captures-page">
      <h1 id={visible ? 'section-heading' : undefined} tabIndex={-1}>
        Captures
      </h1>
      <FlowCaptureSection {...(cluster ? { cluster } : {})} />
      <h2>Capture on one interface</h2>
      {ssh.nodes.length === 0 ? (
        <p>No SSH nodes yet: add one under Nodes first. Captures run tcpdump on the node over SSH.</p>
      ) : (
        <form
          className="capture-form"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <label>
            Preset
            <select value={preset} onChange={(e) => applyPreset(e.target.value)}>
              <option value="">(none)</option>
              {capturePresets.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
          <NodePicker value={nodeId} onChange={setNodeId} />
          <label>
            Interface
            <input value={iface} onChange={(e) => setIface(e.target.value)} list="capture-interfaces" size={12} required />
            <datalist id="capture-interfaces">
              {['ens5', 'eth0', 'tunl0', 'vxlan.calico', 'any', 'lo'].map((i) => (
                <option key={i} value={i} />
              ))}
            </datalist>
          </label>
          <label className="grow">
            Capture filter (BPF)
            <input value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="e.g. ip proto 4 or udp port 4789" />
          </label>
          <label>
            Snap length
            <input type="number" min={0} max={262144} value={snapLen} onChange={(e) => setSnapLen(e.target.value)} size={7} title="Bytes kept of each packet on the node (tcpdump -s); 0 for whole packets" />
          </label>
          <button type="submit" className="primary" disabled={nodeId === '' || iface === '' || starting}>
            {starting ? 'Starting…' : 'Start capture'}
          </button>
        </form>
      )}
      {chosenPreset && <p className="hint">Expect: {chosenPreset.expect}.</p>}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {notice && <p role="status">{notice}</p>}

      {captures.length > 0 && (
        <div className="capture-tabs" role="tablist" aria-label="Captures">
          {captures.map((c) => (
            <div key={c.id} className={`capture-tab${c.id === active ? ' current' : ''}`}>
              <button type="button" role="tab" aria-selected={c.id === active} onClick={() => (setActive(c.id), setSelected(undefined))}>
                {c.node} {c.iface}
                {c.filter ? ` (${c.filter})` : ''} · {c.captured} packets{c.state === 'running' ? ' · live' : ''}
              </button>
              {c.state === 'running' ? (
                <button type="button" onClick={() => void stop(c.id)} aria-label={`Stop capture on ${c.node} ${c.iface}`}>
                  Stop
                </button>
              ) : (
                <button type="button" onClick={() => void discard(c.id)} aria-label={`Discard capture on ${c.node} ${c.iface}`}>
                  Discard
                </button>
              )}
            </div>
          ))}
          {captures.length > 1 && (
            <>
              <button type="button" onClick={() => void exportAs(captures.map((c) => c.id), 'pcapng')}>
                Export all (pcapng)
              </button>
              <label className="check">
                <input type="checkbox" checked={sideBySide} onChange={(e) => setSideBySide(e.target.checked)} />
                Side by side
              </label>
            </>
          )}
        </div>
      )}

      {current && (
        <>
          <div className="capture-status">
            <code>{current.command}</code> on {current.node}: <strong data-testid="captured">{current.captured}</strong> packets, {current.bytes} bytes
            {current.skipped > 0 && (
              <span className="skipped" role="status">
                {' '}
                · {current.skipped} not shown (the view fell behind; they are in the export)
              </span>
            )}
            {current.dropped > 0 && (
              <span className="skipped" role="status" data-testid="dropped">
                {' '}
                · the oldest {current.dropped} ({Math.round(current.droppedBytes / 1048576)} MiB) dropped to keep the capture within its bound; it keeps the newest
              </span>
            )}
            {current.kernelDropped ? <span className="skipped"> · {current.kernelDropped} dropped by the node's kernel</span> : null}
            {current.reason && (
              <p role={current.error ? 'alert' : 'status'} className={current.error ? 'error' : 'hint'}>
                {current.reason}
              </p>
            )}
            <span className="actions">
              <button type="button" onClick={() => void exportAs([current.id], 'pcap')} disabled={current.captured === 0}>
                Export pcap
              </button>
              <button type="button" onClick={() => void exportAs([current.id], 'pcapng')} disabled={current.captured === 0}>
                Export pcapng
              </button>
            </span>
          </div>
          {chart}
          <label className="display-filter">
            Display filter
            <input
              value={displayFilter}
              onChange={(e) => setDisplayFilter(e.target.value)}
              placeholder="e.g. ipip && tcp.port == 80, vxlan.vni == 4096, ip.addr == 192.168.0.0/16"
              aria-invalid={filtered.error ? true : undefined}
              className={filtered.error ? 'invalid' : displayFilter ? 'valid' : undefined}
            />
          </label>
          {filtered.error && <p className="error">{filtered.error}</p>}
          {sideBySide && captures.length > 1 ? (
            // Every capture's list next to the others (e.g. worker-1's and worker-3's ens5); the
            // display filter applies to the current one, a click makes a capture current.
            <div className="side-by-side" style={{ gridTemplateColumns: `repeat(${captures.length}, minmax(0, 1fr))` }}>
              {captures.map((c) => (
                <div key={c.id} onClickCapture={() => c.id !== current.id && (setActive(c.id), setSelected(undefined))}>
                  <PacketList
                    rows={c.id === current.id ? filtered.rows : (feed.rows.get(c.id) ?? [])}
                    selected={c.id === current.id ? selected : undefined}
                    onSelect={setSelected}
                    label={`Packets of ${c.node} ${c.iface}`}
                  />
                </div>
              ))}
            </div>
          ) : (
            <PacketList rows={filtered.rows} selected={selected} onSelect={setSelected} label={`Packets of ${current.node} ${current.iface}`} />
          )}
          {selected !== undefined && <PacketDetail key={`${current.id}-${selected}`} captureId={current.id} n={selected} />}
        </>
      )}
    </section>
  );
}
