// Wireshark's lower panes for the selected packet: the decoded tree (built here from the packet's
// bytes with the shared decoders) and the bytes in hex and ASCII, with the selected tree node's
// bytes highlighted.
import { useEffect, useMemo, useState } from 'react';
import { packetTree, type TreeNode } from '../../../shared/packets/packet-tree.ts';
import { messageOf, useClient } from '../api/client-context.ts';

function fromBase64(text: string): Uint8Array {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function Tree({ nodes, selected, onSelect }: { nodes: TreeNode[]; selected?: TreeNode; onSelect: (n: TreeNode) => void }) {
  return (
    <ul role="group">
      {nodes.map((node, i) => (
        <li key={i} role="treeitem" aria-selected={node === selected} aria-expanded={node.children ? true : undefined}>
          <button type="button" className={`tree-node${node.problem ? ' problem' : ''}`} onClick={() => onSelect(node)}>
            {node.label}
          </button>
          {node.children && node.children.length > 0 && <Tree nodes={node.children} selected={selected} onSelect={onSelect} />}
        </li>
      ))}
    </ul>
  );
}

function HexPane({ bytes, start, length }: { bytes: Uint8Array; start: number; length: number }) {
  const lines = [];
  for (let o = 0; o < bytes.length; o += 16) {
    const hex = [];
    const text = [];
    for (let i = o; i < Math.min(o + 16, bytes.length); i++) {
      const on = i >= start && i < start + length;
      const b = bytes[i]!;
      hex.push(
        <span key={i} className={on ? 'hl' : undefined}>
          {b.toString(16).padStart(2, '0')}
        </span>,
      );
      text.push(
        <span key={i} className={on ? 'hl' : undefined}>
          {b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'}
        </span>,
      );
    }
    lines.push(
      <div key={o} className="hex-line">
        <span className="hex-offset">{o.toString(16).padStart(4, '0')}</span>
        <span className="hex-bytes">{hex}</span>
        <span className="hex-text">{text}</span>
      </div>,
    );
  }
  return (
    <div className="hex-pane" aria-label="Packet bytes" role="region" data-highlight={`${start}:${length}`}>
      {lines}
    </div>
  );
}

export function PacketDetail({ captureId, n }: { captureId: string; n: number }) {
  const client = useClient();
  const [packet, setPacket] = useState<{ n: number; bytes: Uint8Array; linkType: number; origLen: number } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [selected, setSelected] = useState<TreeNode | undefined>();

  useEffect(() => {
    let live = true;
    client.request('capture.packet', { captureId, n }).then(
      (p) => live && (setPacket({ n: p.n, bytes: fromBase64(p.base64), linkType: p.linkType, origLen: p.origLen }), setSelected(undefined), setError(undefined)),
      (e: unknown) => live && setError(messageOf(e)),
    );
    return () => {
      live = false;
    };
  }, [client, captureId, n]);

  const tree = useMemo(() => (packet ? packetTree(packet.bytes, 0, packet.bytes.length, packet.origLen, packet.linkType) : []), [packet]);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!packet) return <p className="hint">Loading packet {n}…</p>;
  return (
    <div className="packet-detail">
      <div className="tree-pane" role="tree" aria-label={`Packet ${packet.n} decoded`}>
        <Tree nodes={tree} selected={selected} onSelect={setSelected} />
      </div>
      <HexPane bytes={packet.bytes} start={selected?.start ?? -1} length={selected?.length ?? 0} />
    </div>
  );
}
