// Graceful restart (RFC 4724) on both sides. As helper: a peer whose session ends without a
// NOTIFICATION keeps its routes in our RIB as stale until it comes back and sends End-of-RIB, or
// its restart time passes. As restarting speaker: the kernel routes of our previous run stay
// until every peer has sent End-of-RIB (or our restart time passes), then those no best path
// backs any more are swept.
import type { Logger } from 'pino';
import type { SpeakerConfigFile } from './config.ts';
import type { KernelRoutes } from './kernel-routes.ts';
import type { Peer } from './peer.ts';
import type { Rib } from './rib/rib.ts';
import { LOCAL_PEER } from './rib/route-attributes.ts';

export interface RestartContext {
  readonly rib: Rib;
  readonly kernel: KernelRoutes | undefined;
  readonly config: SpeakerConfigFile['gracefulRestart'];
  readonly log: Logger;
  /** The configured peers (a peer not up yet holds back the end of our restart). */
  peers(): readonly Peer[];
  /** The deferral is over: choose best paths, program the kernel, send every peer its routes and End-of-RIB. */
  endDeferral(): void;
  scheduleFlush(): void;
}

export class GracefulRestart {
  /** Our own graceful restart: kernel routes from the previous run are kept until peers resync. */
  restarting = false;
  /** Kernel routes found from the previous run at start. */
  adoptedKernelRoutes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** The sweep of kernel routes at the end of our restart, while it runs. */
  sweeping: Promise<void> | undefined;

  constructor(private readonly ctx: RestartContext) {}

  // ---- as restarting speaker ----

  /** At start: adopts the previous run's kernel routes; with any, we are restarting. */
  async begin(): Promise<void> {
    const { kernel, config, log } = this.ctx;
    if (!kernel || !config.enabled) return;
    const adopted = await kernel.adoptExisting();
    this.adoptedKernelRoutes = adopted;
    if (adopted === 0) return;
    this.restarting = true;
    log.info({ routes: adopted }, 'kernel routes from the previous run kept for graceful restart');
    this.restartTimer = setTimeout(() => this.finish('restart time elapsed'), config.restartTime * 1000);
    this.restartTimer.unref();
  }

  /** RFC 4724 4.1: the restart is over when every peer has sent End-of-RIB (or cannot: no GR). */
  checkDone(): void {
    if (this.restarting && this.ctx.peers().every((p) => p.stats.endOfRibReceived || (p.negotiated !== undefined && !p.negotiated.gracefulRestart))) {
      this.finish('every peer sent End-of-RIB');
    }
  }

  /**
   * The end of our own graceful restart: kernel routes that no best path backs any more go (the
   * kernel is listed, as routes from the previous run are in no table of ours).
   */
  finish(why: string): void {
    if (!this.restarting) return;
    const { rib, kernel, log } = this.ctx;
    this.restarting = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.ctx.endDeferral();
    if (!kernel) return log.info({ why }, 'graceful restart complete');
    this.sweeping = kernel.sweep((address, length) => {
      const best = rib.best(address, length);
      return best >= 0 && rib.attributes[best]!.source.index !== LOCAL_PEER && rib.attributes[best]!.nextHop !== 0;
    }).then(
      (removed) => log.info({ why, removed }, 'graceful restart complete'),
      (error: Error) => log.error({ why, err: error }, 'graceful restart complete, but the kernel routes could not be listed to remove stale ones'),
    );
  }

  /** The speaker stops: no timer fires afterwards. */
  stop(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
  }

  // ---- as helper ----

  /** A session came up: a peer that restarted without keeping its forwarding state lost its old routes. */
  peerEstablished(peer: Peer): void {
    peer.stats.endOfRibReceived = false;
    if (peer.staleSince && !peer.negotiated?.gracefulRestart?.forwarding) {
      this.ctx.rib.removePeer(peer.index, true);
      this.endStale(peer);
    }
  }

  /**
   * A session went down: its routes stay as stale when both sides do graceful restart for IPv4
   * unicast and it ended without a NOTIFICATION (RFC 4724 4.2); otherwise they go now.
   */
  peerDown(peer: Peer, byNotification: boolean): void {
    const { rib, config, log } = this.ctx;
    const gr = peer.negotiated?.gracefulRestart;
    if (config.enabled && gr?.ipv4Unicast && !byNotification && peer.enabled) {
      const stale = rib.markStale(peer.index);
      peer.staleSince = new Date();
      if (peer.staleTimer) clearTimeout(peer.staleTimer);
      peer.staleTimer = setTimeout(() => {
        const swept = rib.removePeer(peer.index, true);
        log.warn({ peer: peer.name, swept }, 'peer did not come back within its restart time: stale routes removed');
        this.endStale(peer);
        this.ctx.scheduleFlush();
      }, gr.restartTime * 1000);
      peer.staleTimer.unref();
      log.info({ peer: peer.name, stale, restartTime: gr.restartTime }, 'graceful restart: keeping the peer\'s routes as stale');
    } else {
      rib.removePeer(peer.index);
      this.endStale(peer);
    }
  }

  /** End-of-RIB from a peer: its stale routes not refreshed go; it no longer holds back our restart. */
  endOfRib(peer: Peer): void {
    peer.stats.endOfRibReceived = true;
    if (peer.staleSince) {
      const swept = this.ctx.rib.removePeer(peer.index, true);
      this.ctx.log.info({ peer: peer.name, swept }, 'End-of-RIB: stale routes not refreshed are removed');
      this.endStale(peer);
    }
    // RFC 4724 4.1: the restarting speaker defers until every peer has sent End-of-RIB (a peer
    // that is not up yet holds it back; the restart timer bounds the wait).
    this.checkDone();
  }

  endStale(peer: Peer): void {
    peer.staleSince = undefined;
    if (peer.staleTimer) clearTimeout(peer.staleTimer);
    peer.staleTimer = undefined;
  }
}
