// The console API's part for installing the agent on nodes over SSH: what the renderer asks for,
// and the per-node progress the backend reports while it works. Kept apart from
// console-contract.ts, which spreads these in.
import { z } from 'zod';

const id = z.string().min(1).max(128);

export const InstallPhase = z.enum(['queued', 'checking', 'uploading', 'verifying', 'configuring', 'starting', 'done', 'failed']);
export type InstallPhase = z.infer<typeof InstallPhase>;

/** What the node runs after an install or uninstall ended, above all after one that failed halfway. */
export const NodeAgentState = z.enum(['new-agent-running', 'old-agent-running', 'no-agent', 'agent-stopped', 'unknown']);
export type NodeAgentState = z.infer<typeof NodeAgentState>;

export const InstallOutcome = z.enum(['installed', 'upgraded', 'unchanged', 'uninstalled', 'not-installed', 'failed']);
export type InstallOutcome = z.infer<typeof InstallOutcome>;

export const InstallProgress = z.object({
  nodeId: id,
  operation: z.enum(['install', 'uninstall']),
  phase: InstallPhase,
  message: z.string(),
  bytesSent: z.number().int().min(0).optional(),
  bytesTotal: z.number().int().min(0).optional(),
  /** Set when the phase is done or failed. */
  outcome: InstallOutcome.optional(),
  nodeState: NodeAgentState.optional(),
  /** The agent version the node runs afterwards, when known. */
  version: z.string().optional(),
  /** A failure the user can retry (a dropped connection, a timeout); false for e.g. a wrong architecture. */
  retryable: z.boolean().optional(),
  /** Milliseconds from the start of this node's operation. */
  ms: z.number().int().min(0).optional(),
});
export type InstallProgress = z.infer<typeof InstallProgress>;

export const AgentArtifactInfo = z.object({ version: z.string(), sha256: z.string(), bytes: z.number().int(), arch: z.string(), dir: z.string() });
export type AgentArtifactInfo = z.infer<typeof AgentArtifactInfo>;

export const agentInstallRequests = {
  /** The agent build the console would install (npm run build:agent's output). */
  'agent.artifact': {
    params: z.object({}),
    result: AgentArtifactInfo,
  },
  /**
   * Installs (or upgrades) the agent on the nodes, all at once; progress arrives as
   * `agent.installProgress` events and the result holds each node's last one.
   */
  'agent.install': {
    params: z.object({
      /** The kube context whose admin credential makes the agent's own (it never reaches a node). */
      context: z.string().min(1).max(253),
      nodes: z
        .array(z.object({ nodeId: id, /** The Kubernetes Node's name; the SSH node's name when absent. */ nodeName: z.string().min(1).max(253).optional() }))
        .min(1)
        .max(500),
    }),
    result: z.object({ results: z.array(InstallProgress) }),
  },
  'agent.uninstall': {
    params: z.object({ nodes: z.array(z.object({ nodeId: id })).min(1).max(500) }),
    result: z.object({ results: z.array(InstallProgress) }),
  },
} as const;

export const agentInstallEvents = {
  'agent.installProgress': InstallProgress,
} as const;
