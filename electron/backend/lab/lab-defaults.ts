// The lab (`npm run lab`) as the console's default cluster for a newcomer: `npm start` hands the
// backend what `lab status --json` printed, and the console then offers the lab's context among
// the kubeconfig's, and the lab's nodes among the user's, reachable with the lab's admin key and
// verified against the host keys the lab made. The backend reads the status document, never the
// lab's code: the lab is a separate program (and the backend never imports it).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { SshNode } from '../../../shared/api/console-contract.ts';
import { errorMap, fieldPath } from '../../../shared/model/validation.ts';

/** The fields of `lab status --json` the console uses; the rest is ignored. */
const LabStatus = z.object({
  up: z.boolean(),
  kubeconfig: z.string().min(1).optional(),
  sshKey: z.string().min(1).optional(),
  knownHosts: z.string().min(1).optional(),
  nodes: z.array(z.object({ name: z.string().min(1), address: z.string().min(1) })),
});

export interface LabDefaults {
  /** The lab's admin kubeconfig, merged after the user's own files (theirs keep the current context). */
  kubeconfig?: string;
  /** That kubeconfig's context: the one the console connects to on its first screen. */
  context?: string;
  /** The lab's known_hosts: trusted, never written. */
  knownHosts?: string;
  /** The lab's nodes, as the console lists them (ids `lab-<name>`); not stored, not removable. */
  nodes: SshNode[];
}

/** Where `npm start` puts the lab's status for the backend (Electron and web mode alike). */
export const labStatusEnv = 'GINGHAM_LAB_STATUS';

/** The lab's defaults from a `lab status --json` document; a lab that is not up gives none. */
export function labDefaultsFrom(document: unknown): LabDefaults | undefined {
  const parsed = LabStatus.safeParse(document, { reportInput: true, error: errorMap });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? fieldPath(issue.path) || '(top level)' : '(top level)';
    throw new Error(`The lab's status is not what \`npm run lab -- status --json\` prints: ${field} ${issue?.message ?? 'is wrong'}. Run \`npm start\` again.`);
  }
  const status = parsed.data;
  if (!status.up) return undefined;
  const context = status.kubeconfig ? currentContext(status.kubeconfig) : undefined;
  return {
    ...(status.kubeconfig ? { kubeconfig: status.kubeconfig } : {}),
    ...(context ? { context } : {}),
    ...(status.knownHosts ? { knownHosts: status.knownHosts } : {}),
    nodes: status.nodes.map((node) => ({
      id: `lab-${node.name}`,
      name: node.name,
      host: node.address,
      user: 'root',
      ...(status.sshKey ? { identityFile: status.sshKey } : {}),
    })),
  };
}

/** The current context of the lab's kubeconfig; none when the file is unreadable (the contexts list then says why). */
function currentContext(file: string): string | undefined {
  try {
    const context = (parse(readFileSync(file, 'utf8')) as { 'current-context'?: unknown } | null)?.['current-context'];
    return typeof context === 'string' && context !== '' ? context : undefined;
  } catch {
    return undefined;
  }
}

/** The lab's defaults named by $GINGHAM_LAB_STATUS (a file holding `lab status --json`), if any. */
export function labDefaultsFromEnv(env: NodeJS.ProcessEnv = process.env): LabDefaults | undefined {
  const file = env[labStatusEnv];
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the lab's status at ${file} (${labStatusEnv}): ${(error as Error).message}. Unset it, or run \`npm start\` again.`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`The lab's status at ${file} (${labStatusEnv}) is not JSON (${(error as Error).message}). Unset it, or run \`npm start\` again.`);
  }
  try {
    return labDefaultsFrom(document);
  } catch (error) {
    throw new Error(`${file} (${labStatusEnv}): ${(error as Error).message}`);
  }
}
