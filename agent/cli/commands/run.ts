// `gingham-agent run --config FILE`: the whole agent in one process (datastore, IPAM, BGP,
// dataplane); `gingham-agent node-status` asks a running agent for its state over the control
// socket (`gingham-agent status --control SOCKET` prints its BGP peers as calicoctl does, and
// `gingham-agent routes` its routes with their owners).
import type { Command } from 'commander';
import { pino } from 'pino';
import { agentNodeLayout } from '../../../shared/api/agent-contract.ts';
import { callRpc } from '../../rpc/client.ts';
import { agentVersion } from '../version.ts';
import type { NodeAgent } from '../../run/node-agent.ts';

const defaultControl = agentNodeLayout.control;

export function registerRunCommands(program: Command): void {
  program
    .command('run')
    .description('run the agent: watch the cluster, claim IPAM blocks, speak BGP, program the dataplane')
    .requiredOption('--config <file>', 'YAML or JSON: nodeName, kubeconfig (or token), autodetect, address, control')
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (options: { config: string; logLevel: string }) => {
      const log = pino({ level: options.logLevel, base: { part: 'agent' } }, pino.destination(2));
      let agent: NodeAgent;
      try {
        // Loaded here, not at the top: other commands (the CNI plugin above all) start faster without them.
        const [{ KubeClient }, { autodetect }, { loadRunConfig }, { NodeAgent }] = await Promise.all([
          import('../../datastore/kube-client.ts'),
          import('../../run/autodetect.ts'),
          import('../../run/config.ts'),
          import('../../run/node-agent.ts'),
        ]);
        const config = loadRunConfig(options.config);
        const client = config.kubeconfig ? KubeClient.fromKubeconfigFile(config.kubeconfig) : KubeClient.fromToken(config.token!);
        const host = await autodetect(config.autodetect, config.address);
        agent = new NodeAgent({
          nodeName: config.nodeName,
          client,
          host,
          log,
          control: config.control,
          userspaceIpip: config.userspaceIpip,
          watchTimeoutSeconds: config.watchTimeoutSeconds,
          agentVersion,
        });
        await agent.start();
      } catch (error) {
        console.error(`gingham-agent: ${(error as Error).message}`);
        process.exit(2);
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) process.exit(1);
        stopping = true;
        // SIGTERM keeps routes (a restart); SIGUSR2 removes everything the agent made (a node leaving).
        log.info({ signal }, signal === 'SIGUSR2' ? 'stopping: removing routes and devices' : 'stopping; routes stay until the next start');
        await agent.stop({ cleanup: signal === 'SIGUSR2' });
        process.exit(0);
      };
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGUSR2'] as const) process.on(signal, () => void stop(signal));
    });

  program
    .command('node-status')
    .description("the running agent's state: datastore sync, tunnel addresses, BGP peers, last dataplane pass")
    .option('--control <path>', 'control socket', defaultControl)
    .action(async (options: { control: string }) => {
      try {
        process.stdout.write(JSON.stringify(await callRpc(options.control, 'status'), null, 2) + '\n');
      } catch (error) {
        console.error(`gingham-agent: ${(error as Error).message}`);
        process.exitCode = 1;
      }
    });
}
