// A real Kubernetes control plane without kubelets, as controller-runtime's envtest runs one:
// etcd and kube-apiserver as child processes, RBAC on, the ServiceAccount admission plugin off,
// and an admin kubeconfig with a client certificate. Tests use it as a fixture; the lab runs
// it on its master node; `npm run controlplane -- up` starts one for a person.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { ensureBinaries, processAlive as alive, type Progress } from './build.ts';
import { stateDir as defaultStateDir } from './cache.ts';
import { ensurePki, type Pki } from './pki.ts';

export interface ControlPlaneOptions {
  /** Where certificates, etcd data, logs and the kubeconfig live. */
  stateDir?: string;
  /** The address the API server listens on (and is reached at). 127.0.0.1 by default. */
  address?: string;
  /** The API server's port; a free one when unset (6443 in the lab). */
  port?: number;
  /** Run both processes in this network namespace (the lab's master). */
  netns?: string;
  progress?: Progress;
}

export interface ControlPlane {
  server: string;
  kubeconfig: string;
  stateDir: string;
  pids: { etcd: number; apiserver: number };
}

const stateFile = (dir: string) => path.join(dir, 'controlplane.json');

export function defaultControlPlaneDir(): string {
  return defaultStateDir('controlplane');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function startDetached(name: string, argv: string[], dir: string, netns?: string): number {
  const log = openSync(path.join(dir, `${name}.log`), 'a');
  const [command, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
  // Detached, in its own process group, so that `up` can return and `down` can stop it later.
  const child = spawn(command!, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return child.pid;
}

function tail(file: string, lines = 12): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** GET `urlPath` on the API server as the admin; resolves with the status and body. */
export function adminGet(server: string, pki: Pick<Pki, 'caCert' | 'adminCert' | 'adminKey'>, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(urlPath, server),
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 2000,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function waitReady(server: string, pki: Pki, dir: string, pids: ControlPlane['pids'], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    for (const [name, pid] of Object.entries(pids)) {
      if (!alive(pid)) throw new Error(`${name} exited during start-up. The end of its log:\n${tail(path.join(dir, `${name}.log`))}`);
    }
    try {
      const { status, body } = await adminGet(server, pki, '/readyz');
      if (status === 200) return;
      last = `readyz ${status}: ${body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kube-apiserver was not ready within ${timeoutMs / 1000} s (${last}). The end of its log:\n${tail(path.join(dir, 'apiserver.log'))}`);
}

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (file: string) => readFileSync(file).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'gingham', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [{ name: 'gingham-admin', user: { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) } }],
    contexts: [{ name: 'gingham-admin@gingham', context: { cluster: 'gingham', user: 'gingham-admin' } }],
    'current-context': 'gingham-admin@gingham',
  });
}

/** The control plane recorded in `dir`, if both its processes still run. */
export async function controlPlaneStatus(dir = defaultControlPlaneDir()): Promise<ControlPlane | undefined> {
  if (!existsSync(stateFile(dir))) return undefined;
  const recorded = JSON.parse(await readFile(stateFile(dir), 'utf8')) as ControlPlane;
  return alive(recorded.pids.etcd) && alive(recorded.pids.apiserver) ? recorded : undefined;
}

/** Starts etcd and kube-apiserver (building them first if needed); idempotent. */
export async function controlPlaneUp(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const dir = options.stateDir ?? defaultControlPlaneDir();
  const progress = options.progress ?? ((m: string) => console.error(m));
  const running = await controlPlaneStatus(dir);
  if (running) {
    progress(`The control plane is already running at ${running.server}.`);
    return running;
  }
  await controlPlaneDown(dir); // a half-dead earlier run leaves nothing behind
  const binaries = await ensureBinaries(progress);
  const address = options.address ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const [etcdClient, etcdPeer] = options.netns ? [2379, 2380] : [await freePort(), await freePort()];
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pki = await ensurePki(path.join(dir, 'pki'), [address]);
  const server = `https://${address}:${port}`;

  progress(`Starting etcd and kube-apiserver on ${server} ...`);
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const etcd = startDetached(
    'etcd',
    [
      binaries.etcd,
      '--name=gingham',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=gingham=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync', // a test and lab cluster: speed over durability
      '--log-level=warn',
    ],
    dir,
    options.netns,
  );
  const apiserver = startDetached(
    'apiserver',
    [
      binaries.kubeApiserver,
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${port}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.96.0.0/12',
      '--authorization-mode=RBAC',
      // No controller-manager runs to create ServiceAccount tokens; as envtest does, drop the plugin.
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      `--cert-dir=${path.join(dir, 'pki')}`,
    ],
    dir,
    options.netns,
  );
  const plane: ControlPlane = { server, kubeconfig: path.join(dir, 'admin.kubeconfig'), stateDir: dir, pids: { etcd, apiserver } };
  await writeFile(stateFile(dir), JSON.stringify(plane, null, 2));
  try {
    await waitReady(server, pki, dir, plane.pids, 90_000);
  } catch (error) {
    await controlPlaneDown(dir);
    throw error;
  }
  await writeFile(plane.kubeconfig, kubeconfigYaml(server, pki), { mode: 0o600 });
  progress(`The control plane is ready at ${server}.`);
  return plane;
}

async function stop(pid: number): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(-pid, 'SIGTERM'); // the whole group: `ip netns exec` and its child
  } catch {
    process.kill(pid, 'SIGTERM');
  }
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(-pid, 'SIGKILL');
}

/** Stops the processes recorded in `dir`; with `purge`, removes the folder too. */
export async function controlPlaneDown(dir = defaultControlPlaneDir(), purge = false): Promise<void> {
  if (existsSync(stateFile(dir))) {
    const recorded = JSON.parse(await readFile(stateFile(dir), 'utf8')) as ControlPlane;
    await stop(recorded.pids.apiserver);
    await stop(recorded.pids.etcd);
    await rm(stateFile(dir), { force: true });
  }
  if (purge) await rm(dir, { recursive: true, force: true });
}
