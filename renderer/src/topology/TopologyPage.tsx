// Topology: a picture of the cluster an admin looks at rather than reads. Zones hold subnets hold
// nodes; lines are BGP sessions (the mesh counted per pair of boxes, reflectors and BGPPeers one
// by one), coloured by the encapsulation pod traffic takes between the two ends, with the
// sessions that are down in red. Live from the agents' published status (the console's one
// watch), the encapsulations from the doctor's node-pair table where the cluster is small enough
// to read it whole, else from the doctor's rule per pair of subnets. A large cluster opens with
// its subnets collapsed, each a box with its counts; any group opens and closes. The same edges
// are listed in a table under the picture, for screen readers and for reading exact numbers.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Background, Controls, Handle, Position, ReactFlow, type Edge as FlowEdge, type Node as FlowNode, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import type { NodePairTable } from '../../../shared/doctor/pairs.ts';
import { encapName } from '../../../shared/doctor/encapsulation.ts';
import { isTransportLoss, messageOf, useClient } from '../api/client-context.ts';
import type { ConnectedCluster } from '../api/connected-cluster.ts';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { useNodeStatus } from '../node-status/node-status-state.tsx';
import { buildTopology, visibleGraph, type Edge, type EdgeEncap, type Element } from './topology-model.ts';
import { layoutTopology, type Placed } from './topology-layout.ts';
import './topology.css';

/** Up to this many nodes the doctor's pair table is read whole (n x (n-1) pairs per pool), and every group opens expanded. */
const pairTableNodes = 60;

const encapWords: Record<EdgeEncap, string> = { ...encapName, mixed: 'mixed (several)', unknown: 'unknown' };

interface BoxData extends Record<string, unknown> {
  element: Element;
  collapsed: boolean;
  toggle(id: string): void;
}

const handles = (
  <>
    <Handle type="target" position={Position.Top} className="topology-handle" isConnectable={false} />
    <Handle type="source" position={Position.Top} className="topology-handle" isConnectable={false} />
  </>
);

const kindWords = { zone: 'zone', subnet: 'subnet', node: 'node', outside: 'peer' } as const;

function countsOf(element: Element): string {
  const parts = [`${element.nodes} node${element.nodes === 1 ? '' : 's'}`];
  if (element.unhealthy > 0) parts.push(`${element.unhealthy} not Ready`);
  return parts.join(', ');
}

/** A zone or subnet: its header (name, counts, Collapse/Expand), and when collapsed its sessions inside. */
function GroupBox({ data }: NodeProps<FlowNode<BoxData>>) {
  const { element, collapsed, toggle } = data;
  const inside = element.inside;
  return (
    <div className={`topology-group kind-${element.kind} ${collapsed ? 'collapsed' : ''} ${element.unhealthy > 0 ? 'unhealthy' : ''}`}>
      {handles}
      <div className="topology-group-header">
        <span className="topology-group-name">
          {kindWords[element.kind as 'zone' | 'subnet']} {element.label}
        </span>
        <button type="button" className="nodrag" aria-label={`${collapsed ? 'Expand' : 'Collapse'} ${kindWords[element.kind as 'zone' | 'subnet']} ${element.label}`} aria-expanded={!collapsed} onClick={() => toggle(element.id)}>
          {collapsed ? '+' : '−'}
        </button>
      </div>
      <div className="topology-group-counts">{countsOf(element)}</div>
      {inside && (
        <div className={`topology-inside encap-${inside.encapsulation}`}>
          mesh: {inside.sessions.toLocaleString('en')} sessions inside, {encapWords[inside.encapsulation]}
          {inside.down > 0 && <span className="down"> ({inside.down.toLocaleString('en')} down)</span>}
        </div>
      )}
    </div>
  );
}

function NodeBox({ data }: NodeProps<FlowNode<BoxData>>) {
  const { element } = data;
  const node = element.node;
  return (
    <div className={`topology-node health-${node?.health ?? 'none'}`} title={node ? `${node.name} ${node.address ?? ''}: ${node.health}, ${node.established} of ${node.total} sessions up` : element.label}>
      {handles}
      <span className="topology-node-name">{element.label}</span>
      {node && (
        <span className="topology-node-detail">
          {node.health} · {node.established}/{node.total} BGP
        </span>
      )}
    </div>
  );
}

function OutsideBox({ data }: NodeProps<FlowNode<BoxData>>) {
  return (
    <div className="topology-node outside">
      {handles}
      <span className="topology-node-name">{data.element.label}</span>
    </div>
  );
}

const nodeTypes = { group: GroupBox, node: NodeBox, outside: OutsideBox };

const edgeColumns = (labels: Map<string, string>): Column<Edge>[] => [
  { id: 'from', header: 'From', width: 'minmax(10rem, 1fr)', rowHeader: true, cell: (e) => labels.get(e.source) ?? e.source, text: (e) => labels.get(e.source) ?? e.source, sort: (e) => labels.get(e.source) ?? e.source },
  { id: 'to', header: 'To', width: 'minmax(10rem, 1fr)', cell: (e) => labels.get(e.target) ?? e.target, text: (e) => labels.get(e.target) ?? e.target, sort: (e) => labels.get(e.target) ?? e.target },
  { id: 'kind', header: 'Sessions of', width: '8rem', cell: (e) => (e.kind === 'mesh' ? 'the mesh' : 'peerings'), text: (e) => e.kind, sort: (e) => e.kind },
  { id: 'sessions', header: 'Sessions', width: '6rem', cell: (e) => e.sessions.toLocaleString('en'), sort: (e) => e.sessions },
  { id: 'down', header: 'Down', width: '5rem', cell: (e) => e.down.toLocaleString('en'), sort: (e) => e.down, className: (e) => (e.down > 0 ? 'error' : undefined) },
  { id: 'encap', header: 'Encapsulation', width: 'minmax(10rem, 1fr)', cell: (e) => encapWords[e.encapsulation], text: (e) => encapWords[e.encapsulation], sort: (e) => e.encapsulation },
];
// The edges table's row keys and data-* attributes: one function for every render.
const edgeKey = (e: Edge) => e.id;
const edgeAttributes = (e: Edge) => ({ 'data-edge': e.id, 'data-encapsulation': e.encapsulation });

export function TopologyPage({ cluster, active }: { cluster?: ConnectedCluster; active: boolean }) {
  const client = useClient();
  const { statuses } = useNodeStatus();
  const [pairs, setPairs] = useState<NodePairTable | undefined>();
  const [pairsNote, setPairsNote] = useState<string | undefined>();
  const [collapsed, setCollapsed] = useState<Set<string> | undefined>();
  const [placed, setPlaced] = useState<Map<string, Placed> | undefined>();
  const [layoutMs, setLayoutMs] = useState<number | undefined>();
  /** Counts the layouts: the picture is drawn anew (and fitted to its box) for each, not for each change of shape before its layout is done. */
  const [layouts, setLayouts] = useState(0);
  const small = (cluster?.nodes.length ?? 0) <= pairTableNodes;

  useEffect(() => {
    setPairs(undefined);
    setPairsNote(undefined);
    if (!cluster || !active) return;
    if (!small) {
      setPairsNote(`The doctor's pair table is not read for ${cluster.nodes.length} nodes (${(cluster.nodes.length * (cluster.nodes.length - 1)).toLocaleString('en')} pairs per pool); each pair of subnets is decided by the doctor's rule instead.`);
      return;
    }
    let stopped = false;
    client.request('doctor.pairs', { context: cluster.context }).then(
      (table) => !stopped && setPairs(table),
      (e: unknown) => !stopped && !isTransportLoss(e) && setPairsNote(`The doctor's pair table could not be read (${messageOf(e)}): the encapsulations come from the doctor's rule and the agents' modes.`),
    );
    return () => {
      stopped = true;
    };
  }, [client, cluster, active, small]);

  const topology = useMemo(() => (cluster ? buildTopology({ nodes: cluster.nodes, statuses, pairs }) : undefined), [cluster, statuses, pairs]);
  // A large cluster opens with its subnets collapsed; the user's choice is kept from then on.
  const shut = useMemo(() => collapsed ?? new Set(small ? [] : (topology?.groups.filter((g) => g.kind === 'subnet').map((g) => g.id) ?? [])), [collapsed, small, topology]);
  const graph = useMemo(() => (topology ? visibleGraph(topology, shut) : undefined), [topology, shut]);
  // Laid out again only when what is drawn changes shape, not on every status update.
  const shape = graph ? graph.elements.map((e) => `${e.id}<${e.parent ?? ''}`).join(' ') : '';
  useEffect(() => {
    if (!graph) return;
    let stopped = false;
    const started = performance.now();
    void layoutTopology(graph.elements).then((result) => {
      if (stopped) return;
      setPlaced(result);
      setLayoutMs(performance.now() - started);
      setLayouts((n) => n + 1);
    });
    return () => {
      stopped = true;
    };
    // `graph` is read through `shape`.
  }, [shape]);

  const toggle = useCallback(
    (id: string) =>
      setCollapsed(() => {
        const next = new Set(shut);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      }),
    [shut],
  );

  const flowNodes = useMemo<FlowNode<BoxData>[]>(() => {
    if (!graph || !placed) return [];
    return graph.elements
      .filter((e) => placed.has(e.id))
      .map((element) => {
        const at = placed.get(element.id)!;
        const type = element.kind === 'node' ? 'node' : element.kind === 'outside' ? 'outside' : 'group';
        return {
          id: element.id,
          type,
          position: { x: at.x, y: at.y },
          ...(element.parent ? { parentId: element.parent } : {}),
          data: { element, collapsed: shut.has(element.id), toggle },
          // Clicks reach the box's buttons: xyflow leaves a node neither draggable nor selectable to the pane beneath.
          style: { width: at.width, height: at.height, pointerEvents: 'all' as const },
          draggable: false,
          selectable: false,
          ariaLabel: `${kindWords[element.kind]} ${element.label}: ${countsOf(element)}`,
          ariaRole: 'group',
        };
      });
  }, [graph, placed, shut, toggle]);

  const flowEdges = useMemo<FlowEdge[]>(() => {
    if (!graph || !placed) return [];
    return graph.edges
      .filter((e) => placed.has(e.source) && placed.has(e.target))
      .map((edge) => ({
        id: edge.id,
        source: edge.source,
        target: edge.target,
        type: 'straight',
        className: `topology-edge encap-${edge.encapsulation} ${edge.down === edge.sessions ? 'all-down' : edge.down > 0 ? 'some-down' : ''}`,
        style: { strokeWidth: Math.min(6, 1 + Math.log10(edge.sessions + 1) * 1.5) },
        ...(edge.sessions > 1 || edge.down > 0 ? { label: `${edge.sessions.toLocaleString('en')}${edge.down > 0 ? ` (${edge.down} down)` : ''}` } : {}),
        focusable: false,
        selectable: false,
      }));
  }, [graph, placed]);

  const labels = useMemo(() => new Map(graph?.elements.map((e) => [e.id, `${kindWords[e.kind]} ${e.label}`]) ?? []), [graph]);
  const columns = useMemo(() => edgeColumns(labels), [labels]);

  if (!cluster) {
    return (
      <section aria-labelledby="section-heading">
        <h1 id="section-heading" tabIndex={-1}>
          Topology
        </h1>
        <p>No cluster is connected: connect one under Clusters to see its topology.</p>
      </section>
    );
  }
  const meshSessions = graph ? graph.edges.filter((e) => e.kind === 'mesh').reduce((n, e) => n + e.sessions, 0) + graph.elements.reduce((n, e) => n + (e.inside?.sessions ?? 0), 0) : 0;
  return (
    <section aria-labelledby="section-heading" className="topology-page">
      <h1 id="section-heading" tabIndex={-1}>
        Topology
      </h1>
      <div className="toolbar">
        <button type="button" onClick={() => setCollapsed(new Set())}>
          Expand all
        </button>
        <button type="button" onClick={() => setCollapsed(new Set(topology?.groups.filter((g) => g.kind === 'subnet').map((g) => g.id)))}>
          Collapse subnets
        </button>
        <button type="button" onClick={() => setCollapsed(new Set(topology?.groups.filter((g) => g.kind === 'zone').map((g) => g.id)))}>
          Collapse zones
        </button>
        <span className="hint" role="status">
          {topology ? `${topology.nodes.size} nodes in ${topology.groups.filter((g) => g.kind === 'subnet').length} subnets and ${topology.groups.filter((g) => g.kind === 'zone').length} zones; ${meshSessions.toLocaleString('en')} mesh sessions` : ''}
          {layoutMs !== undefined ? `; laid out in ${Math.round(layoutMs)} ms` : ''}
        </span>
      </div>
      <ul className="topology-legend" aria-label="Encapsulation colours">
        {(['direct', 'ipip', 'vxlan', 'mixed'] as const).map((e) => (
          <li key={e}>
            <span className={`swatch encap-${e}`} aria-hidden="true" /> {encapWords[e]}
          </li>
        ))}
        <li>
          <span className="swatch down" aria-hidden="true" /> sessions down
        </li>
      </ul>
      <p className="hint">Encapsulations from {topology?.encapsulationSource}.{pairsNote ? ` ${pairsNote}` : ''}</p>
      <figure className="topology-canvas" aria-label={`Topology of ${cluster.context}`}>
        <ReactFlow nodes={flowNodes} edges={flowEdges} nodeTypes={nodeTypes} fitView minZoom={0.05} nodesConnectable={false} nodesDraggable={false} onlyRenderVisibleElements proOptions={{ hideAttribution: true }} key={layouts}>
          <Background gap={24} />
          <Controls showInteractive={false} />
        </ReactFlow>
      </figure>
      {graph && (
        <DataTable caption={(shown, total) => `Sessions between the boxes drawn (${shown} of ${total})`} columns={columns} rows={graph.edges} rowKey={edgeKey} rowAttributes={edgeAttributes} filterLabel="Filter sessions" maxHeight="40vh" />
      )}
    </section>
  );
}
