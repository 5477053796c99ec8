// Where each box and node of the topology goes: ELK (elkjs, its bundled build, run in the page:
// no worker and no eval, which the console's CSP allows) lays out the nested groups, zones
// holding subnets holding nodes, each level packed into rows (rectpacking) so that 500 nodes in
// a few dozen subnets make a compact picture. Positions come back relative to the parent box, as
// @xyflow/react draws children.
import ELK, { type ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { Element } from './topology-model.ts';

export interface Placed {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

const elk = new ELK();

/** The size of a box that has no children drawn: a node, a collapsed group, an outside peer. */
export function leafSize(element: Element): { width: number; height: number } {
  if (element.kind === 'node') return { width: 150, height: 46 };
  if (element.kind === 'outside') return { width: 190, height: 46 };
  return { width: 280, height: 84 };
}

const container = {
  'elk.algorithm': 'rectpacking',
  // Room at the top for the group's header: its name and Collapse button, its counts, its mesh inside.
  'elk.padding': '[top=78,left=14,bottom=14,right=14]',
  'elk.spacing.nodeNode': '14',
  'elk.aspectRatio': '1.8',
};

export async function layoutTopology(elements: readonly Element[]): Promise<Map<string, Placed>> {
  const byParent = new Map<string | undefined, Element[]>();
  for (const element of elements) byParent.set(element.parent, [...(byParent.get(element.parent) ?? []), element]);
  const build = (element: Element): ElkNode => {
    const children = byParent.get(element.id);
    if (!children) return { id: element.id, ...leafSize(element) };
    return { id: element.id, layoutOptions: container, children: children.map(build) };
  };
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: { ...container, 'elk.padding': '[top=10,left=10,bottom=10,right=10]', 'elk.spacing.nodeNode': '28', 'elk.aspectRatio': '1.6' },
    children: (byParent.get(undefined) ?? []).map(build),
  };
  const laid = await elk.layout(graph);
  const placed = new Map<string, Placed>();
  const walk = (node: ElkNode) => {
    for (const child of node.children ?? []) {
      placed.set(child.id, { id: child.id, x: child.x ?? 0, y: child.y ?? 0, width: child.width ?? 0, height: child.height ?? 0 });
      walk(child);
    }
  };
  walk(laid);
  return placed;
}
