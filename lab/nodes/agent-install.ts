// Installs and starts the agent on a node over SSH, as an admin would by hand: the agent's
// kubeconfig (a ServiceAccount token, never the admin's credentials) and its configuration in
// /etc/gingham, a launcher in /opt/gingham/bin that runs this checkout's agent with Node and tsx,
// the CNI plugin where a runtime looks for it (/opt/cni/bin/gingham, /etc/cni/net.d), and a small
// supervisor that restarts the agent when it exits (what systemd's Restart=always does on a host),
// started detached so that the SSH session can end. Running it again leaves a running agent alone.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { agentNodeLayout, agentRunConfigSchema, type AgentRunConfigInput } from '../../shared/api/agent-contract.ts';
import { cniConflist, cniPaths, cniPluginShim } from '../../shared/model/cni-network.ts';
import { runResult } from '../sh.ts';
import { sshOptions, type LabKeys } from './ssh-keys.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The agent's layout (the same as the console's installer leaves), plus the lab's launcher and supervisor. */
export const agentPaths = {
  kubeconfig: agentNodeLayout.kubeconfig,
  config: agentNodeLayout.config,
  launcher: `${agentNodeLayout.bin}/gingham-agent`,
  supervisor: `${agentNodeLayout.bin}/gingham-agent-supervise`,
  supervisorPid: `${agentNodeLayout.run}/supervisor.pid`,
  log: agentNodeLayout.agentLog,
  control: agentNodeLayout.control,
  cniPlugin: cniPaths.plugin,
  cniConfig: cniPaths.config,
} as const;

/** Runs a shell script on the node as root over SSH (the script on stdin, so secrets in it never reach a command line). */
export async function sshScript(keys: LabKeys, address: string, script: string, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return runResult('ssh', [...sshOptions(keys), `root@${address}`, '/bin/sh', '-s'], { input: script, timeoutMs });
}

function heredoc(file: string, content: string, mode: string): string {
  const marker = 'GINGHAM_LAB_EOF';
  if (content.includes(marker)) throw new Error(`${file}: content contains the heredoc marker`);
  return `cat > ${file} <<'${marker}'\n${content.endsWith('\n') ? content : content + '\n'}${marker}\nchmod ${mode} ${file}`;
}

export function installScript(nodeName: string, agentKubeconfig: string, start: boolean): string {
  const fields: AgentRunConfigInput = { nodeName, kubeconfig: agentPaths.kubeconfig, autodetect: 'interface=ens5', control: agentPaths.control };
  agentRunConfigSchema.parse(fields); // what the agent would refuse is refused here, before it reaches a node
  const config = stringify(fields);
  const launcher = ['#!/bin/sh', '# gingham-agent from the lab machine’s checkout, with Node and tsx (no build step).', `cd ${repo} && exec ${process.execPath} --import tsx agent/cli/bin.ts "$@"`].join('\n');
  const supervisor = [
    '#!/bin/sh',
    '# Keeps the agent running, as a service manager would: restarted 2 s after it exits.',
    `echo $$ > ${agentPaths.supervisorPid}`,
    'while :; do',
    `  ${agentPaths.launcher} run --config ${agentPaths.config}`,
    '  echo "gingham-agent exited with status $?; restarting in 2 s" >&2',
    '  sleep 2',
    'done',
  ].join('\n');
  return [
    'set -eu',
    'umask 022',
    'mkdir -p /opt/gingham/bin /opt/cni/bin /etc/cni/net.d /var/lib/gingham',
    'install -d -m 0700 /etc/gingham /run/gingham',
    heredoc(agentPaths.kubeconfig, agentKubeconfig, '0600'),
    heredoc(agentPaths.config, config, '0600'),
    heredoc(agentPaths.launcher, launcher, '0755'),
    heredoc(agentPaths.supervisor, supervisor, '0755'),
    heredoc(agentPaths.cniPlugin, cniPluginShim(agentPaths.launcher, 'Written by the lab'), '0755'),
    heredoc(agentPaths.cniConfig, cniConflist({ kubeconfig: agentPaths.kubeconfig, nodeName }), '0644'),
    ...(start
      ? [
          `if [ -f ${agentPaths.supervisorPid} ] && kill -0 "$(cat ${agentPaths.supervisorPid})" 2>/dev/null; then`,
          '  echo "the agent is already running"',
          'else',
          `  setsid ${agentPaths.supervisor} >> ${agentPaths.log} 2>&1 < /dev/null &`,
          '  echo "the agent was started"',
          'fi',
        ]
      : []),
    '',
  ].join('\n');
}

export async function installAgent(keys: LabKeys, node: { name: string; address: string }, agentKubeconfig: string, start = true): Promise<string> {
  const result = await sshScript(keys, node.address, installScript(node.name, agentKubeconfig, start));
  if (result.code !== 0) throw new Error(`installing the agent on ${node.name} over SSH failed (status ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout.trim();
}
