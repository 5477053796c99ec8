// `gingham-agent bgp | status | rib`: run the standalone BGP speaker, and read a running one over
// its control socket.
import type { Command } from 'commander';
import path from 'node:path';
import { pino } from 'pino';
import { formatCidr, parseCidr } from '../../../shared/net/index.ts';
import { type PeerConfigInput, loadConfig } from '../../bgp/config.ts';
import { Speaker, type RibRoute, type SpeakerStatus } from '../../bgp/speaker.ts';
import { renderStatus } from '../../bgp/status-text.ts';
import { callRpc } from '../../rpc/client.ts';
import { DEFAULT_CONTROL_DIR } from '../../rpc/protocol.ts';
import { RpcServer } from '../../rpc/server.ts';

export const DEFAULT_BGP_CONTROL = path.join(DEFAULT_CONTROL_DIR, 'bgp.sock');

export function registerBgpCommands(program: Command): void {
  program
    .command('bgp')
    .description('run the BGP speaker standalone (the role BIRD plays in calico-node)')
    .requiredOption('--config <file>', 'YAML or JSON: routerId, asn, listen, peers, announce, kernel')
    .option('--control <path>', 'control socket for status and rib', DEFAULT_BGP_CONTROL)
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (options: { config: string; control: string; logLevel: string }) => {
      const log = pino({ level: options.logLevel, base: { part: 'bgp' } }, pino.destination(2));
      let speaker: Speaker;
      try {
        const config = await loadConfig(options.config);
        speaker = new Speaker(config, log);
      } catch (error) {
        console.error((error as Error).message);
        process.exitCode = 2;
        return;
      }
      // The socket is claimed first (a second speaker on the same path fails at once); calls wait
      // until the speaker has started, so nothing reads a half-started state.
      let markStarted: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (markStarted = resolve));
      const prefixParam = (params: unknown) => parseCidr(String((params as { prefix?: unknown } | undefined)?.prefix));
      const peerParam = (params: unknown) => {
        const peer = (params as { peer?: unknown } | undefined)?.peer;
        if (typeof peer !== 'object' || peer === null) throw new Error('needs {peer: {address, ...}} as a configuration file\'s peer');
        return peer as PeerConfigInput;
      };
      const rpc = new RpcServer(options.control)
        .register('bgp.status', async () => { await started; return speaker.status(); })
        .register('bgp.routes', async (params) => { await started; return speaker.routes((params as { limit?: number } | undefined)?.limit); })
        .register('bgp.announce', async (params) => {
          await started;
          const c = prefixParam(params);
          speaker.announce(c.address, c.prefixLength);
          return { announced: formatCidr(c) };
        })
        .register('bgp.withdraw', async (params) => {
          await started;
          const c = prefixParam(params);
          return { withdrawn: speaker.withdraw(c.address, c.prefixLength) };
        })
        // Peers at runtime, as the configuration file's `peers` entries; other sessions are not touched.
        .register('bgp.addPeer', async (params) => { await started; return speaker.addPeer(peerParam(params)); })
        .register('bgp.updatePeer', async (params) => { await started; return { result: speaker.updatePeer(peerParam(params)) }; })
        .register('bgp.removePeer', async (params) => {
          await started;
          const { address, port } = (params ?? {}) as { address?: unknown; port?: unknown };
          if (typeof address !== 'string') throw new Error('bgp.removePeer needs {address, port?}');
          return { removed: speaker.removePeer(address, typeof port === 'number' ? port : 179) };
        })
        .register('bgp.setPeers', async (params) => {
          await started;
          const peers = (params as { peers?: unknown } | undefined)?.peers;
          if (!Array.isArray(peers)) throw new Error('bgp.setPeers needs {peers: [...]}');
          return speaker.setPeers(peers as PeerConfigInput[]);
        });
      try {
        await rpc.listen();
        await speaker.start();
        markStarted();
      } catch (error) {
        console.error((error as Error).message);
        await rpc.close().catch(() => undefined);
        process.exit(1);
      }
      log.info({ control: options.control, peers: speaker.peers.length }, 'BGP speaker running');
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) process.exit(1);
        stopping = true;
        // SIGTERM/SIGINT is a graceful restart: peers keep our routes, kernel routes stay.
        // SIGUSR2 withdraws everything (Cease to peers, kernel routes removed) before exiting.
        log.info({ signal }, signal === 'SIGUSR2' ? 'stopping: withdrawing routes' : 'stopping (graceful restart: routes stay)');
        await speaker.stop({ withdraw: signal === 'SIGUSR2' });
        await rpc.close();
        process.exit(0);
      };
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGUSR2'] as const) process.on(signal, () => void stop(signal));
    });

  program
    .command('status')
    .description('BGP peer status of the speaker on this host, as `calicoctl node status` prints it')
    .option('--control <path>', 'control socket', DEFAULT_BGP_CONTROL)
    .option('--json', 'machine-readable, with counts, capabilities and the last error')
    .action(async (options: { control: string; json?: boolean }) => {
      try {
        const status = await callRpc<SpeakerStatus>(options.control, 'bgp.status');
        process.stdout.write(options.json ? JSON.stringify(status, null, 2) + '\n' : renderStatus(status));
      } catch (error) {
        if (!options.json) console.log('Calico process is not running.');
        console.error((error as Error).message);
        process.exitCode = 1;
      }
    });

  program
    .command('rib')
    .description('received and best routes with their attributes')
    .option('--control <path>', 'control socket', DEFAULT_BGP_CONTROL)
    .option('--json', 'machine-readable')
    .option('--limit <n>', 'at most this many prefixes', '10000')
    .action(async (options: { control: string; json?: boolean; limit: string }) => {
      try {
        const rib = await callRpc<{ total: number; routes: RibRoute[] }>(options.control, 'bgp.routes', { limit: Number(options.limit) }, 60_000);
        if (options.json) {
          process.stdout.write(JSON.stringify(rib, null, 2) + '\n');
          return;
        }
        const lines: string[] = [];
        for (const r of rib.routes) {
          r.paths.forEach((p, i) => {
            const attrs = [`from ${p.from}`, `as-path [${p.asPath}]`, `origin ${p.origin}`, `local-pref ${p.localPref}`];
            if (p.med !== undefined) attrs.push(`med ${p.med}`);
            if (p.originatorId) attrs.push(`originator ${p.originatorId}`);
            if (p.clusterList) attrs.push(`cluster-list ${p.clusterList.join(' ')}`);
            if (p.communities) attrs.push(`communities ${p.communities.join(' ')}`);
            if (p.pathId) attrs.push(`path-id ${p.pathId}`);
            if (p.stale) attrs.push('stale');
            lines.push(`${(i === 0 ? r.prefix : '').padEnd(20)} ${p.best ? '*' : ' '} via ${p.nextHop.padEnd(15)} ${attrs.join(', ')}`);
          });
        }
        lines.push(`${rib.total} prefixes${rib.total > rib.routes.length ? ` (${rib.routes.length} shown; --limit N for more)` : ''}`);
        process.stdout.write(lines.join('\n') + '\n');
      } catch (error) {
        console.error((error as Error).message);
        process.exitCode = 1;
      }
    });
}
