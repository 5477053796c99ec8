// The commands that need only the BGP part of the agent: bin.ts loads only that group for them,
// and the built executable runs them from its BGP-only bundle (sea-main.ts).
export const BGP_COMMANDS: ReadonlySet<string> = new Set(['bgp', 'status', 'rib']);
