// The console's backend: the services every client shares (node list, SSH connections, known
// hosts, clusters) and, per client (a window or a browser tab), the request handlers and the
// terminals that client opened. Transports (electron/main, electron/web) attach clients to it.
import { readFileSync } from 'node:fs';
import type { EventEmitter, NotificationHandlers, RequestHandlers } from '../../shared/api/console-contract.ts';
import { ConsoleError } from '../../shared/api/errors.ts';
import { appPaths, type AppPaths } from './app-paths.ts';
import { ClusterService, type ClusterServiceOptions } from './kube/cluster-service.ts';
import { kubeconfigPaths } from './kube/kubeconfig.ts';
import { labDefaultsFromEnv, type LabDefaults } from './lab/lab-defaults.ts';
import { NodeStore } from './nodes/node-store.ts';
import type { SshConnectOptions } from './ssh/connect.ts';
import { KnownHosts } from './ssh/known-hosts.ts';
import { SshManager } from './ssh/ssh-manager.ts';
import { TerminalSession } from './terminal/terminal-session.ts';
import type { FlowWindowOptions } from '../../shared/api/flow-control.ts';
import { CaptureService, type CaptureServiceOptions } from './capture/capture-service.ts';
import { ClusterOpsService } from './cluster-ops/cluster-ops-service.ts';
import { DoctorService } from './doctor/doctor-service.ts';
import { MeasureService } from './measure/measure-service.ts';
import { NodeStatusHub } from './node-status/node-status-hub.ts';
import { routingConfigHandlers } from './routing-config/routing-config-service.ts';
import { clusterNodeClient } from './ssh/cluster-node-client.ts';
import { InstallerService, type InstallerServiceOptions } from './installer/installer-service.ts';
import { SwitchService } from './switch/switch-service.ts';
import { MigrationService } from './migration/migration-service.ts';
import { ReflectorsService } from './reflectors/reflectors-service.ts';

export interface ConsoleBackendOptions {
  configDir?: string;
  /** The app's version; Electron passes app.getVersion(), elsewhere package.json's is read. */
  version?: string;
  ssh?: Omit<SshConnectOptions, 'knownHosts'>;
  clusters?: ClusterServiceOptions;
  /** The lab as the default cluster; default: from $GINGHAM_LAB_STATUS, which `npm start` sets. */
  lab?: LabDefaults;
  terminalFlow?: FlowWindowOptions;
  /** Live captures: flow window, limits, and Electron's save dialog for exports. */
  capture?: CaptureServiceOptions;
  /** The agent build to install (out/agent by default) and how long a new agent has to start. */
  installer?: InstallerServiceOptions;
}

export interface AttachedClient {
  handlers: RequestHandlers;
  notifications: NotificationHandlers;
  /** The client went away: close its terminals. */
  detach(): void;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export class ConsoleBackend {
  readonly paths: AppPaths;
  readonly nodes: NodeStore;
  readonly knownHosts: KnownHosts;
  readonly ssh: SshManager;
  readonly clusters: ClusterService;
  /** One watch of the agents' GinghamNodeStatus per context, shared by every client. */
  readonly nodeStatus: NodeStatusHub;
  private readonly version: string;
  private readonly lab: LabDefaults | undefined;

  constructor(private readonly options: ConsoleBackendOptions = {}) {
    this.version = options.version ?? packageVersion();
    this.paths = appPaths(options.configDir);
    const lab = options.lab ?? labDefaultsFromEnv();
    this.lab = lab;
    this.nodes = new NodeStore(this.paths.nodes, lab?.nodes);
    this.knownHosts = new KnownHosts(this.paths.knownHosts, lab?.knownHosts ? [lab.knownHosts] : []);
    this.ssh = new SshManager(this.nodes, { ...options.ssh, knownHosts: this.knownHosts });
    const userPaths = options.clusters?.paths ?? (() => kubeconfigPaths());
    this.clusters = new ClusterService({
      ...options.clusters,
      // The user's files first: their current context stays current; the lab's context is one more.
      paths: () => [...userPaths(), ...(lab?.kubeconfig ? [lab.kubeconfig] : [])],
    });
    this.nodeStatus = new NodeStatusHub((context) => this.clusters.kubeConfig(context));
  }

  attach(emit: EventEmitter): AttachedClient {
    const terminals = new Map<string, TerminalSession>();
    const stopStatus = this.ssh.onStatus((status) => emit('ssh.status', status));
    const kubeConfigFor = (context: string) => this.clusters.kubeConfig(context);
    const doctorService = new DoctorService(this.ssh, this.nodes, kubeConfigFor);
    // A flow capture listens where the doctor's evidence says the path goes.
    const captures = new CaptureService(this.ssh, this.nodes, emit, { ...this.options.capture, flowEvidence: (context, request) => doctorService.evidence(context, request) });
    const installer = new InstallerService(this.ssh, this.nodes, kubeConfigFor, this.options.installer).handlers(emit);
    const clusterOps = new ClusterOpsService(this.ssh, this.nodes, kubeConfigFor).handlers();
    const doctor = doctorService.handlers();
    const switches = new SwitchService(this.ssh, this.nodes, kubeConfigFor, doctorService).handlers(emit);
    const migrations = new MigrationService(this.ssh, this.nodes, kubeConfigFor, this.options.installer).handlers(emit);
    const reflectors = new ReflectorsService(this.ssh, this.nodes, kubeConfigFor).handlers(emit);
    const nodeStatus = this.nodeStatus.client(emit);
    const measure = new MeasureService(kubeConfigFor, (_context, nodeName) => clusterNodeClient(this.ssh, this.nodes, nodeName), this.paths.measurements).handlers();
    const terminal = (id: string) => {
      const session = terminals.get(id);
      if (!session) throw new ConsoleError('not-found', `Terminal ${id} is closed.`);
      return session;
    };

    const handlers: RequestHandlers = {
      'app.info': async () => ({
        version: this.version,
        knownHostsPath: this.knownHosts.path,
        platform: process.platform,
        ...(this.lab ? { lab: { ...(this.lab.context ? { context: this.lab.context } : {}), nodeIds: this.lab.nodes.map((n) => n.id) } } : {}),
      }),
      'contexts.list': async () => this.clusters.list(),
      'contexts.connect': async ({ context }) => this.clusters.connect(context),
      'nodes.list': async () => ({ nodes: this.nodes.list() }),
      'nodes.add': async (fields) => this.nodes.add(fields),
      'nodes.remove': async ({ nodeId }) => {
        this.ssh.disconnect(nodeId);
        return { removed: this.nodes.remove(nodeId) };
      },
      'ssh.connect': async ({ nodeId }) => this.ssh.connect(nodeId),
      'ssh.trustHostKey': async ({ promptId }) => this.ssh.trust(promptId),
      'ssh.disconnect': async ({ nodeId }) => ({ disconnected: this.ssh.disconnect(nodeId) }),
      'terminal.open': async ({ nodeId, cols, rows }) => {
        const session = await TerminalSession.open(
          this.ssh.client(nodeId),
          {
            data: (terminalId, data, bytes) => emit('terminal.data', { terminalId, data, bytes }),
            exit: (terminalId, reason, exitCode) => {
              terminals.delete(terminalId);
              emit('terminal.exit', { terminalId, reason, ...(exitCode === undefined ? {} : { exitCode }) });
            },
          },
          { cols, rows, ...(this.options.terminalFlow ? { flow: this.options.terminalFlow } : {}) },
        );
        terminals.set(session.id, session);
        return { terminalId: session.id };
      },
      'terminal.close': async ({ terminalId }) => {
        const session = terminals.get(terminalId);
        session?.close();
        return { closed: session !== undefined };
      },
      ...captures.handlers,
      ...installer,
      ...clusterOps,
      ...doctor,
      ...measure,
      ...nodeStatus.handlers,
      ...switches,
      ...migrations,
      ...reflectors,
      ...routingConfigHandlers(kubeConfigFor),
    };

    const notifications: NotificationHandlers = {
      'terminal.input': ({ terminalId, data }) => terminal(terminalId).input(data),
      'terminal.resize': ({ terminalId, cols, rows }) => terminal(terminalId).resize(cols, rows),
      'terminal.ack': ({ terminalId, bytes }) => terminals.get(terminalId)?.ack(bytes),
      ...captures.notifications,
    };

    return {
      handlers,
      notifications,
      detach: () => {
        stopStatus();
        nodeStatus.close();
        captures.close();
        for (const session of terminals.values()) session.close();
        terminals.clear();
      },
    };
  }

  close(): void {
    this.ssh.disconnectAll();
    void this.nodeStatus.close();
  }
}
