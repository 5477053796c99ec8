// The doctor's requests: collect the evidence over the console's SSH connections and the
// Kubernetes API (collect-evidence.ts), then trace it with the pure core (shared/doctor/trace.ts).
// The script command (cli.ts) and the console share this code.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'ssh2';
import type { RequestHandlers } from '../../../shared/api/console-contract.ts';
import type { TraceEvidence, TraceRequest } from '../../../shared/doctor/evidence.ts';
import { traceFromEvidence } from '../../../shared/doctor/trace.ts';
import type { TraceResult } from '../../../shared/doctor/trace-result.ts';
import type { NodeStore } from '../nodes/node-store.ts';
import { clusterNodeClient } from '../ssh/cluster-node-client.ts';
import type { SshManager } from '../ssh/ssh-manager.ts';
import { judgeProbe } from '../../../shared/doctor/probe.ts';
import { collectTraceEvidence, readClusterFacts } from './collect-evidence.ts';
import { nodePairs, type NodePairTable } from '../../../shared/doctor/pairs.ts';
import { liveProbe } from './live-probe.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { BundleResult } from '../../../shared/doctor/bundle-contents.ts';
import type { ScanEvidence } from '../../../shared/doctor/scan-evidence.ts';
import type { FixResult, ScanResult } from '../../../shared/doctor/scan-result.ts';
import { scanFromEvidence } from '../../../shared/doctor/scan.ts';
import { makeBundle } from './bundle.ts';
import { collectScanEvidence } from './collect-scan.ts';
import { runFix } from './fix-runner.ts';


export class DoctorService {
  constructor(
    private readonly ssh: SshManager,
    private readonly nodes: NodeStore,
    private readonly kubeConfigFor: (context: string) => KubeConfig,
  ) {}

  /** The SSH connection to a cluster node: the SSH node of the same name, or whose host is one of its addresses. */
  private clientFor(nodeName: string, addresses: string[]): Promise<Client> {
    return clusterNodeClient(this.ssh, this.nodes, nodeName, addresses);
  }

  private addresses = new Map<string, string[]>();

  async evidence(context: string, request: TraceRequest): Promise<TraceEvidence> {
    return collectTraceEvidence(request, {
      kubeConfig: this.kubeConfigFor(context),
      clientFor: (name) => this.clientFor(name, this.addresses.get(name) ?? []),
      onCluster: (cluster) => {
        this.addresses = new Map(cluster.nodes.map((n) => [n.name, [n.internalIp, n.ipv4Address?.split('/')[0]].filter((a): a is string => a !== undefined)]));
      },
    });
  }

  /** The prediction from `evidence`, and with `probe` the live probe judged beside it. */
  async judge(evidence: TraceEvidence, probe: boolean): Promise<TraceResult> {
    const predicted = traceFromEvidence(evidence);
    if (!probe) return predicted;
    try {
      // Kept in the evidence, so that a saved evidence file replays the probe's judgement too.
      evidence.probe = await liveProbe(evidence, (name) => this.clientFor(name, this.addresses.get(name) ?? []));
      return judgeProbe(predicted, evidence.probe);
    } catch (error) {
      return { ...predicted, gaps: [...predicted.gaps, `the live probe could not run: ${(error as Error).message}`] };
    }
  }

  async trace(context: string, request: TraceRequest, probe = false): Promise<TraceResult> {
    const started = Date.now();
    const evidence = await this.evidence(context, request);
    return { ...(await this.judge(evidence, probe)), ms: Date.now() - started };
  }

  /** The node-pair table from the cluster's objects (no SSH needed). */
  async pairs(context: string): Promise<NodePairTable> {
    return nodePairs(await readClusterFacts(this.kubeConfigFor(context)));
  }

  async scanEvidence(context: string, nodes?: string[]): Promise<ScanEvidence> {
    return collectScanEvidence({ kubeConfig: this.kubeConfigFor(context), clientFor: (name, addresses) => this.clientFor(name, addresses), ...(nodes ? { nodes } : {}) });
  }

  /** Every node (or those named): the plan against the kernel, leftovers, BGP, MTU, offloads, health. */
  async scan(context: string, nodes?: string[]): Promise<ScanResult> {
    const started = Date.now();
    return { ...scanFromEvidence(await this.scanEvidence(context, nodes)), ms: Date.now() - started };
  }

  /**
   * Runs the safe fix of finding `id`: the node is scanned again first and the fix taken from that
   * scan (never from the caller), run as it was shown, then the node is scanned once more.
   */
  async fix(context: string, id: string): Promise<FixResult> {
    const node = /^[a-z0-9-]+@([^:]+):/.exec(id)?.[1];
    if (!node) throw new ConsoleError('invalid-field', `${id} is not a finding's id (code@node:subject): take it from a scan.`);
    const before = await this.scan(context, [node]);
    const found = before.findings.find((f) => f.id === id);
    if (!found) throw new ConsoleError('not-found', `${node} no longer shows ${id}: it was fixed or changed meanwhile. Scan again.`);
    const ran = await runFix(await this.clientFor(node, this.addresses.get(node) ?? []), found);
    const after = await this.scan(context, [node]);
    return { finding: found, ran, verified: !after.findings.some((f) => f.id === id), after: after.findings.filter((f) => f.node === node) };
  }

  async bundle(context: string, nodes: string[], trace?: { source: string; destination: string }): Promise<BundleResult> {
    return makeBundle({
      context,
      kubeConfig: this.kubeConfigFor(context),
      nodes,
      clientFor: (name) => this.clientFor(name, this.addresses.get(name) ?? []),
      scan: () => this.scan(context),
      ...(trace ? { trace: () => this.trace(context, trace) } : {}),
    });
  }

  handlers(): Pick<RequestHandlers, 'doctor.trace' | 'doctor.pairs' | 'doctor.scan' | 'doctor.fix' | 'doctor.bundle'> {
    return {
      'doctor.scan': async ({ context, nodes }) => this.scan(context, nodes),
      'doctor.fix': async ({ context, id }) => this.fix(context, id),
      'doctor.bundle': async ({ context, nodes, trace }) => this.bundle(context, nodes, trace),
      'doctor.pairs': async ({ context }) => this.pairs(context),
      'doctor.trace': async ({ context, source, destination, port, probe }) => this.trace(context, { source, destination, ...(port ? { port } : {}) }, probe ?? false),
    };
  }
}
