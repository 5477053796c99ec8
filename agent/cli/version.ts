// The agent's version. `npm run build:agent` stamps it into the bundled executable (esbuild's
// define); run from a checkout with tsx, the agent says so instead of pretending to be a release.
declare const __GINGHAM_AGENT_VERSION__: string | undefined;

export const agentVersion: string = typeof __GINGHAM_AGENT_VERSION__ === 'string' ? __GINGHAM_AGENT_VERSION__ : 'development (run from a checkout)';
