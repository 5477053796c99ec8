// The live packet list: only the rows in view are in the DOM (a fixed row height and a spacer of
// the full height), so that 100,000 rows scroll as smoothly as 100. While the view is at the
// bottom it follows new packets, as Wireshark's auto-scroll does; scrolling up stops following.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { PacketRow } from '../../../shared/api/capture-contract.ts';

const rowHeight = 22;

export function PacketList({ rows, selected, onSelect, label }: { rows: PacketRow[]; selected?: number; onSelect: (n: number) => void; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(300);
  const [follow, setFollow] = useState(true);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [rows.length, follow]);

  // While following, the view is at the bottom whatever the last scroll event said (the layout
  // effect moves it there after this render): draw the rows that will be there.
  const top = follow ? Math.max(0, rows.length * rowHeight - height) : scrollTop;
  const first = Math.max(0, Math.floor(top / rowHeight) - 5);
  const last = Math.min(rows.length, Math.ceil((top + height) / rowHeight) + 5);
  const t0 = rows[0]?.t ?? 0;
  const visible = [];
  for (let i = first; i < last; i++) {
    const r = rows[i]!;
    visible.push(
      <div
        key={r.n}
        role="row"
        aria-rowindex={i + 2}
        aria-selected={selected === r.n}
        className={`packet-row encap-${r.encap}${r.mark ? ' marked' : ''}`}
        style={{ top: i * rowHeight }}
        onClick={() => onSelect(r.n)}
      >
        <span role="gridcell" className="c-n">{r.n}</span>
        <span role="gridcell" className="c-t">{(r.t - t0).toFixed(6)}</span>
        <span role="gridcell" className="c-encap">{r.encapText}</span>
        <span role="gridcell" className="c-src">{r.src}</span>
        <span role="gridcell" className="c-dst">{r.dst}</span>
        <span role="gridcell" className="c-proto">{r.proto}</span>
        <span role="gridcell" className="c-len">{r.len}</span>
        <span role="gridcell" className="c-info">{r.info}</span>
      </div>,
    );
  }

  return (
    <div className="packet-list" role="grid" aria-label={label} aria-rowcount={rows.length + 1}>
      <div role="row" aria-rowindex={1} className="packet-row head">
        {['No.', 'Time', 'Encapsulation', 'Source', 'Destination', 'Protocol', 'Length', 'Info'].map((h, i) => (
          <span role="columnheader" key={h} className={['c-n', 'c-t', 'c-encap', 'c-src', 'c-dst', 'c-proto', 'c-len', 'c-info'][i]}>
            {h}
          </span>
        ))}
      </div>
      <div
        ref={box}
        className="packet-scroll"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          setScrollTop(el.scrollTop);
          setFollow(el.scrollTop + el.clientHeight >= el.scrollHeight - rowHeight);
        }}
        onKeyDown={(e) => {
          if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
          e.preventDefault();
          const at = rows.findIndex((r) => r.n === selected);
          const next = rows[Math.max(0, Math.min(rows.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)))];
          if (next) onSelect(next.n);
        }}
      >
        <div style={{ height: rows.length * rowHeight, position: 'relative' }}>{visible}</div>
      </div>
    </div>
  );
}
