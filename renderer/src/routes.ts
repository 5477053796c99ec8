// The console's sections, in sidebar order. Hash routes, so that the app works the same from a
// file:// page in Electron and from the web server.
export const sections = [
  { id: 'clusters', label: 'Clusters' },
  { id: 'nodes', label: 'Nodes' },
  { id: 'ippools', label: 'IP pools' },
  { id: 'routing', label: 'Routing objects' },
  { id: 'routes', label: 'Routes' },
  { id: 'bgp', label: 'BGP peers' },
  { id: 'topology', label: 'Topology' },
  { id: 'connectivity', label: 'Connectivity' },
  { id: 'migration', label: 'Migration' },
  { id: 'doctor', label: 'Doctor' },
  { id: 'measure', label: 'Measure' },
  { id: 'captures', label: 'Captures' },
  { id: 'terminal', label: 'Terminal' },
] as const;

export type SectionId = (typeof sections)[number]['id'];

export function sectionFromHash(hash: string): SectionId {
  const id = hash.replace(/^#\/?/, '').split('?')[0];
  return sections.find((s) => s.id === id)?.id ?? 'clusters';
}
