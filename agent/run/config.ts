// Reads `gingham-agent run --config FILE` (YAML or JSON) against the schema the installers write
// it with (shared/api/agent-contract.ts), and says which fields to fix.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { agentRunConfigSchema, type AgentRunConfig } from '../../shared/api/agent-contract.ts';

export type RunConfig = AgentRunConfig;

export function loadRunConfig(file: string): RunConfig {
  let document: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    document = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new Error(`cannot read the agent configuration ${file}: ${(error as Error).message}`);
  }
  const parsed = agentRunConfigSchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  - ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new Error(`${file}: the agent configuration is not valid:\n${problems.join('\n')}\nFix these fields and start again.`);
  }
  return parsed.data;
}
