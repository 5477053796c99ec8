// Flow control for streams the renderer draws (terminal output, later packet summaries): the
// backend may have at most `highWater` bytes sent but not yet acknowledged as drawn. Past that it
// pauses its source (the SSH channel, which in turn lets TCP push back on the node), and resumes
// once the renderer's acks bring the backlog under `lowWater`. A flood of output then slows the
// producer instead of queueing without bound and freezing the UI.

export interface FlowWindowOptions {
  highWater: number;
  lowWater: number;
}

export const defaultFlowWindow: FlowWindowOptions = { highWater: 256 * 1024, lowWater: 64 * 1024 };

export class FlowWindow {
  private unacked = 0;
  private paused = false;

  constructor(private readonly options: FlowWindowOptions = defaultFlowWindow) {
    if (!(options.lowWater >= 0 && options.lowWater < options.highWater)) {
      throw new RangeError('lowWater must be at least 0 and below highWater.');
    }
  }

  /** Records bytes sent; returns true when the source must now pause. */
  sent(bytes: number): boolean {
    this.unacked += bytes;
    if (!this.paused && this.unacked >= this.options.highWater) {
      this.paused = true;
      return true;
    }
    return false;
  }

  /** Records bytes acknowledged; returns true when a paused source may now resume. */
  acked(bytes: number): boolean {
    // An ack for more than was sent is a confused or hostile peer: never let it open the window wider.
    this.unacked = Math.max(0, this.unacked - Math.min(bytes, this.unacked));
    if (this.paused && this.unacked <= this.options.lowWater) {
      this.paused = false;
      return true;
    }
    return false;
  }

  get outstanding(): number {
    return this.unacked;
  }

  get isPaused(): boolean {
    return this.paused;
  }
}
