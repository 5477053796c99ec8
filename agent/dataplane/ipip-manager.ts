// tunl0: the kernel ipip device where the kernel has one, else the user-space tunnel (a TUN
// device run by the native helper). Routes and wire format are the same either way; only who
// encapsulates differs.
import { execFile } from 'node:child_process';
import { ipipDeviceName, type DesiredIpipDevice, type DesiredRoute, type DesiredTunnelAdmission } from '../../shared/dataplane-plan/index.ts';
import type { ChangeSet } from './changes.ts';
import type { KernelLink, KernelRoute } from './kernel/snapshot.ts';
import { DrainingNextHops } from './tunl0-drain.ts';
import { UserspaceTunnel, stopHelperIfRunning, type TunnelRoute } from './userspace-tunnel.ts';

export type IpipImplementation = 'kernel' | 'userspace';

function tryCreateKernelTunl0(): Promise<{ ok: boolean; error: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['link', 'add', 'name', ipipDeviceName, 'type', 'ipip'], (error, _stdout, stderr) => {
      resolve({ ok: !error, error: stderr.trim() });
    });
  });
}

export class IpipManager {
  implementation: IpipImplementation | undefined;
  private tunnel: UserspaceTunnel | undefined;

  constructor(
    private readonly onHelperExit: (reason: string) => void,
    /** Force the user-space tunnel even where the kernel has ipip (for tests and comparisons). */
    private readonly forceUserspace = false,
  ) {}

  /**
   * Makes sure tunl0 exists when it is wanted, before the changes are computed. Returns whether
   * the device is new (so that its settings must all be applied) and whether it exists.
   */
  async ensureDevice(want: DesiredIpipDevice | undefined, links: ReadonlyMap<string, KernelLink>): Promise<{ present: boolean; fresh: boolean }> {
    const have = links.get(ipipDeviceName);
    if (!want) return { present: have !== undefined, fresh: false };
    if (this.implementation === undefined) {
      if (have?.kind === 'ipip' && !this.forceUserspace) this.implementation = 'kernel';
      else if (!have && !this.forceUserspace) {
        const created = await tryCreateKernelTunl0();
        // Without the ipip module iproute2 says "Unknown device type"; anything else is a real error.
        if (created.ok) return ((this.implementation = 'kernel'), { present: true, fresh: true });
        this.implementation = 'userspace';
      } else this.implementation = 'userspace';
    }
    if (this.implementation === 'kernel') return { present: have !== undefined, fresh: false };
    if (this.tunnel && this.tunnel.local !== want.local) await this.stopTunnel();
    if (!this.tunnel?.running) {
      await this.stopping;
      this.tunnel = new UserspaceTunnel(ipipDeviceName, want.local, this.onHelperExit);
      // A helper left by an agent before this one (killed, restarted) is taken over as it is:
      // its device, addresses and routes stay, so nothing needs setting again.
      const { adopted } = await this.tunnel.start();
      return { present: true, fresh: !adopted || !have };
    }
    return { present: true, fresh: !have };
  }

  diff(want: DesiredIpipDevice | undefined, have: KernelLink | undefined, fresh: boolean, changes: ChangeSet): void {
    const dev = ipipDeviceName;
    if (!want) {
      if (!have) return;
      // The kernel's tunl0 is the ipip module's fallback device and cannot be deleted: take it down.
      if (have.kind === 'ipip') {
        if (have.up) changes.add('teardown', `link set ${dev} down`);
        for (const address of have.addresses) changes.add('teardown', `addr del ${address} dev ${dev}`);
      }
      return; // the user-space device goes when its helper stops (see finish)
    }
    if (fresh || !have || have.mtu !== want.mtu || !have.up) changes.add('prepare', `link set ${dev} mtu ${want.mtu} up`);
    const addresses = fresh || !have ? [] : have.addresses;
    if (want.address && !addresses.includes(want.address)) changes.add('prepare', `addr replace ${want.address} dev ${dev}`);
    for (const address of addresses) if (address !== want.address) changes.add('retire', `addr del ${address} dev ${dev}`);
  }

  /**
   * Before the routes move: the helper learns every next hop, old and new, so no packet lacks
   * one, and accepts IP-in-IP from every host, old and new.
   */
  async beforeSwitch(desired: readonly DesiredRoute[], kernel: readonly KernelRoute[], admission?: DesiredTunnelAdmission): Promise<void> {
    if (!this.tunnel?.running) return;
    this.inPass = true;
    const table = new Map<string, string>(this.held.map((r) => [r.dst, r.gateway]));
    for (const r of kernel) if (r.dev === ipipDeviceName && r.gateway) table.set(r.dst, r.gateway);
    for (const r of tunnelRoutes(desired)) table.set(r.dst, r.gateway);
    await this.tunnel.setHosts([...new Set([...this.hosts, ...(admission?.hosts ?? [])])].sort());
    await this.give([...table].map(([dst, gateway]) => ({ dst, gateway })));
  }

  /** The host set last given to the helper after a pass. */
  private hosts: string[] = [];
  /** The helper's route table as last given. */
  private held: TunnelRoute[] = [];
  /** The next hops the routes use, and whether tunl0 is wanted at all, as of the last pass. */
  private wanted: TunnelRoute[] = [];
  private deviceWanted = false;
  /** Between beforeSwitch and finish: the pass owns the helper's table. */
  private inPass = false;
  private readonly drain = new DrainingNextHops();
  private drainTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * After the pass: the wanted next hops, and for a while the ones the routes just left (packets
   * still in tunl0's queue need them: tunl0-drain.ts); the helper stops when tunl0 is no longer
   * wanted, once those have drained. The pass does not wait for the helper to exit (under load
   * that took most of a second): a later start waits for it instead, so that two helpers never
   * hold tunl0 at once.
   */
  async finish(want: DesiredIpipDevice | undefined, desired: readonly DesiredRoute[], admission?: DesiredTunnelAdmission): Promise<void> {
    this.inPass = false;
    this.deviceWanted = want !== undefined;
    this.wanted = want ? tunnelRoutes(desired) : [];
    if (!want) {
      // A helper an earlier agent left (this one never started one) goes too.
      if (!this.tunnel && this.implementation !== 'kernel' && !this.stopping) this.stopLeftHelper();
      if (this.tunnel?.running && (await this.drainTable())) return; // it stops once drained
      void this.stopTunnel();
      return;
    }
    await this.drainTable();
    this.hosts = admission?.hosts ?? [];
    await this.tunnel?.setHosts(this.hosts);
  }

  /** Gives the helper the wanted next hops and those still draining; says whether any drain, and comes back when the first has. */
  private async drainTable(): Promise<boolean> {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    if (!this.tunnel?.running) return false;
    const table = this.drain.table(this.held, this.wanted, Date.now());
    await this.give(table);
    const next = this.drain.nextExpiry();
    if (next === undefined) return false;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      // A pass under way owns the table: its finish drains again.
      if (this.inPass) return;
      void this.drainTable().then((draining) => {
        if (!draining && !this.deviceWanted) void this.stopTunnel();
      }, () => undefined); // the helper went: the next pass starts or stops it
    }, Math.max(0, next - Date.now()));
    this.drainTimer.unref();
    return true;
  }

  private async give(table: TunnelRoute[]): Promise<void> {
    await this.tunnel?.setRoutes(table);
    this.held = table;
  }

  /** How many IP-in-IP packets from outside the cluster the helper dropped (undefined without one). */
  async foreignDrops(): Promise<number | undefined> {
    return this.tunnel?.running ? (await this.tunnel.stats()).foreign : undefined;
  }

  /**
   * Lets go of the helper without stopping it (an agent restart): it keeps forwarding with its
   * last tables, and the next agent takes it over.
   */
  detachTunnel(): void {
    this.forgetTable();
    this.tunnel?.detach();
    this.tunnel = undefined;
  }

  private stopping: Promise<void> | undefined;

  private forgetTable(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.drain.clear();
    this.held = [];
  }

  private stopLeftHelper(): void {
    const stopping = stopHelperIfRunning(ipipDeviceName).then(() => undefined, () => undefined);
    this.stopping = stopping;
    void stopping.finally(() => {
      if (this.stopping === stopping) this.stopping = undefined;
    });
  }

  stopTunnel(): Promise<void> {
    this.forgetTable();
    const tunnel = this.tunnel;
    this.tunnel = undefined;
    if (!tunnel) return this.stopping ?? Promise.resolve();
    const stopping = (this.stopping ?? Promise.resolve()).then(() => tunnel.stop());
    this.stopping = stopping;
    void stopping.finally(() => {
      if (this.stopping === stopping) this.stopping = undefined;
    });
    return stopping;
  }
}

function tunnelRoutes(routes: readonly DesiredRoute[]): TunnelRoute[] {
  return routes.filter((r) => r.dev === ipipDeviceName && r.gateway).map((r) => ({ dst: r.dst, gateway: r.gateway! }));
}
