// Packets and bytes per second, split by encapsulation, for the last two minutes of a capture.
// Counts come from the backend's tallies, so that skipped rows are still counted here. Stacked
// bars, one per second: a single second of traffic is visible too, and the split reads at a glance.
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { SecondSample } from './capture-feed.ts';

const colors = { direct: '#3d6fb6', IPIP: '#c2410c', VXLAN: '#15803d' } as const;

function Chart({ data, unit, title }: { data: Array<Record<string, number>>; unit: string; title: string }) {
  return (
    <figure className="traffic-chart">
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={150}>
        <BarChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }} barCategoryGap={1}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="s" tickFormatter={(s: number) => `${s}s`} />
          <YAxis width={56} />
          <Tooltip formatter={(v) => `${String(v)} ${unit}`} labelFormatter={(s) => `second ${String(s)}`} />
          <Legend />
          {(['direct', 'IPIP', 'VXLAN'] as const).map((k) => (
            <Bar key={k} dataKey={k} stackId="1" fill={colors[k]} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function TrafficChart({ seconds }: { seconds: SecondSample[] }) {
  const t0 = seconds[0]?.t ?? 0;
  // Seconds without packets send no batch: draw them as zeros so that the time axis stays even.
  const filled: SecondSample[] = [];
  for (const s of seconds) {
    const previous = filled[filled.length - 1];
    for (let t = previous ? previous.t + 1 : s.t; t < s.t; t++) filled.push({ t, packets: { direct: 0, IPIP: 0, VXLAN: 0 }, bytes: { direct: 0, IPIP: 0, VXLAN: 0 } });
    filled.push(s);
  }
  const packets = filled.map((s) => ({ s: s.t - t0, ...s.packets }));
  const bytes = filled.map((s) => ({ s: s.t - t0, ...s.bytes }));
  const total = seconds.reduce((n, s) => n + s.packets.direct + s.packets.IPIP + s.packets.VXLAN, 0);
  return (
    <div className="traffic-charts" data-packets={total}>
      <Chart data={packets} unit="packets/s" title="Packets per second by encapsulation" />
      <Chart data={bytes} unit="bytes/s" title="Bytes per second by encapsulation" />
    </div>
  );
}
