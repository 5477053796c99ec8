// `npm run controlplane -- up|down|status|build|kubectl ARGS`: a real control plane for tests and
// for people. `up` prints the admin kubeconfig's path on its last line, for scripts.
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { ensureBinaries } from './build.ts';
import { controlPlaneDown, controlPlaneStatus, controlPlaneUp, defaultControlPlaneDir } from './controlplane.ts';

const program = new Command('controlplane').description('A real etcd + kube-apiserver (no kubelets) for tests and the lab');

program
  .command('build')
  .description('build (or find in the cache) etcd, kube-apiserver and kubectl')
  .action(async () => {
    const binaries = await ensureBinaries();
    console.log(Object.values(binaries).join('\n'));
  });

program
  .command('up')
  .description('start the control plane; prints the admin kubeconfig path last')
  .option('--port <port>', 'API server port (default: a free one)', (v) => Number(v))
  .option('--state-dir <dir>', 'where its files live', defaultControlPlaneDir())
  .action(async (options: { port?: number; stateDir: string }) => {
    const plane = await controlPlaneUp({ stateDir: options.stateDir, ...(options.port ? { port: options.port } : {}) });
    console.log(plane.kubeconfig);
  });

program
  .command('down')
  .description('stop it (add --purge to delete its data)')
  .option('--purge', 'also delete certificates and etcd data')
  .option('--state-dir <dir>', 'where its files live', defaultControlPlaneDir())
  .action(async (options: { purge?: boolean; stateDir: string }) => {
    await controlPlaneDown(options.stateDir, options.purge ?? false);
    console.error('The control plane is stopped.');
  });

program
  .command('status')
  .option('--state-dir <dir>', 'where its files live', defaultControlPlaneDir())
  .action(async (options: { stateDir: string }) => {
    const plane = await controlPlaneStatus(options.stateDir);
    if (!plane) {
      console.log('The control plane is not running. Start it with: npm run controlplane -- up');
      process.exitCode = 1;
      return;
    }
    console.log(`running at ${plane.server} (etcd pid ${plane.pids.etcd}, kube-apiserver pid ${plane.pids.apiserver})\nkubeconfig: ${plane.kubeconfig}`);
  });

program
  .command('kubectl')
  .description('run the built kubectl with the admin kubeconfig')
  .argument('[args...]')
  .allowUnknownOption()
  .helpOption(false)
  .action(async (args: string[]) => {
    const plane = await controlPlaneStatus();
    if (!plane) {
      console.error('The control plane is not running. Start it with: npm run controlplane -- up');
      process.exit(1);
    }
    const { kubectl } = await ensureBinaries();
    const result = spawnSync(kubectl, ['--kubeconfig', plane.kubeconfig, ...args], { stdio: 'inherit' });
    process.exit(result.status ?? 1);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
