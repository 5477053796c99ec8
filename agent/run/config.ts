// `gingham-agent run --config FILE`: the node's name, how to reach the API server (a kubeconfig,
// or a token file with the server and its CA), and how to find the node's own interface and
// address (Calico's IP_AUTODETECTION_METHOD: first-found, interface=REGEX, can-reach=IP, or an
// explicit address).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isIPv4, parseInterfaceAddress } from '../../shared/net/index.ts';

const autodetectSchema = z
  .union([
    z.literal('first-found'),
    z.string().regex(/^interface=.+$/, { error: 'interface=REGEX picks the first interface whose name matches' }),
    z.string().regex(/^can-reach=.+$/, { error: 'can-reach=IP picks the interface the kernel routes that address through' }),
  ])
  .default('first-found');

export const runConfigSchema = z
  .strictObject({
    nodeName: z.string().min(1).meta({ description: "This node's name as Kubernetes knows it." }),
    kubeconfig: z.string().min(1).optional().meta({ description: "The agent's kubeconfig (gingham-agent credential writes one)." }),
    token: z
      .strictObject({ server: z.url(), caFile: z.string().min(1), tokenFile: z.string().min(1) })
      .optional()
      .meta({ description: 'Instead of a kubeconfig: the API server, its CA and a ServiceAccount token file.' }),
    autodetect: autodetectSchema,
    /** The node's address with its prefix length; skips autodetection when set (the interface is still looked up). */
    address: z
      .string()
      .refine((text) => {
        try {
          parseInterfaceAddress(text);
          return true;
        } catch {
          return false;
        }
      }, { error: 'must be the node address with its prefix length, such as 10.240.1.11/24' })
      .optional(),
    /** The control socket for `status` and `routes`. */
    control: z.string().default('/run/gingham/agent.sock'),
    /** Use the user-space tunl0 even where the kernel has the ipip module. */
    userspaceIpip: z.boolean().default(false),
    /** Tuning for tests: how long the server may keep one watch open. */
    watchTimeoutSeconds: z.int().min(1).max(3600).default(300),
  })
  .refine((c) => (c.kubeconfig === undefined) !== (c.token === undefined), { error: 'give exactly one of kubeconfig and token', path: ['kubeconfig'] })
  .refine((c) => !c.autodetect.startsWith('can-reach=') || isIPv4(c.autodetect.slice('can-reach='.length)), {
    error: 'can-reach= needs an IPv4 address',
    path: ['autodetect'],
  });

export type RunConfig = z.output<typeof runConfigSchema>;

export function loadRunConfig(file: string): RunConfig {
  let document: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    document = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new Error(`cannot read the agent configuration ${file}: ${(error as Error).message}`);
  }
  const parsed = runConfigSchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  - ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new Error(`${file}: the agent configuration is not valid:\n${problems.join('\n')}\nFix these fields and start again.`);
  }
  return parsed.data;
}
