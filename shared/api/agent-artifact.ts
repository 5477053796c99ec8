// The agent artifact's manifest: what `npm run build:agent` (scripts/build-agent.ts) writes beside
// the files it builds and what the console's installer reads (electron/backend/installer/
// artifact.ts), as untrusted input: the installer builds remote paths from it, so every path is
// plain names with no `..` and nothing a shell would read twice.
import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const relativePath = z.string().regex(/^[\w.+-]+(\/[\w.+-]+)*$/).refine((p) => !p.split('/').includes('..'), 'no .. in artifact paths');

export const AgentManifest = z.object({
  name: z.literal('gingham-agent'),
  version: z.string().min(1).max(100).regex(/^[\w.+-]+$/),
  platform: z.literal('linux'),
  arch: z.string(),
  node: z.string(),
  /** The executable's SHA-256: the artifact's identity (two builds are the same agent when it matches). */
  sha256,
  executable: relativePath,
  files: z
    .array(
      z.object({
        path: relativePath,
        sha256,
        size: z.number().int().min(0),
        mode: z.number().int().min(0).max(0o777),
        /** The same file gzip-compressed, uploaded instead where the node has gzip (a third of the bytes). */
        gzip: z.object({ path: relativePath, sha256, size: z.number().int().min(0) }).optional(),
        /** The same file zstd-compressed, preferred where the node has zstd (it unpacks three times as fast as gzip). */
        zstd: z.object({ path: relativePath, sha256, size: z.number().int().min(0) }).optional(),
      }),
    )
    .min(1),
  /**
   * What the built executable's `gingham-agent manifests` prints (CRDs, RBAC, the admission
   * policy), kept beside it at build time so that an install applies this agent's own manifests
   * without starting the 100 MB executable on a node first. Not uploaded. Older builds lack it.
   */
  clusterManifests: z.object({ path: relativePath, sha256 }).optional(),
});
export type AgentManifest = z.infer<typeof AgentManifest>;
