// Keeps vyos_vm_api_router_up current (docs/monitoring.md): when no router call has finished for
// one interval, one cheap read asks the router. Busy servers never probe (their own calls keep the
// gauge fresh); idle ones, and ones whose sync job is backing off, probe every interval.
import type { Logger } from './logger.js';

export interface RouterProbeOptions {
  /** 0 = off: the gauge is then only as fresh as the calls the server makes anyway */
  intervalMs: number;
  logger: Logger;
}

export class RouterProbe {
  private lastCallAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private call: (() => Promise<unknown>) | null = null;

  constructor(private readonly opts: RouterProbeOptions) {}

  /** Wraps the router client's `onCall`: every finished call, ours or anyone's, postpones the next probe. */
  watch<E>(onCall: (e: E) => void): (e: E) => void {
    return (e) => {
      this.lastCallAt = Date.now();
      onCall(e);
    };
  }

  /** Starts probing with `call` (a cheap read; its outcome reaches the gauge through `watch`). */
  start(call: () => Promise<unknown>): void {
    if (this.opts.intervalMs <= 0 || this.call) return;
    this.call = call;
    this.schedule(this.opts.intervalMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.call = null;
  }

  private schedule(delayMs: number): void {
    if (!this.call) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const call = this.call;
    if (!call) return;
    const quietMs = Date.now() - this.lastCallAt;
    if (quietMs >= this.opts.intervalMs) {
      // Awaited before the next is scheduled: one probe at a time, bounded by the client's read timeout.
      try {
        await call();
      } catch (err) {
        // The client has counted and logged the failure already; the gauge shows it.
        this.opts.logger.debug({ err }, 'router probe failed');
      }
      this.schedule(this.opts.intervalMs);
    } else {
      this.schedule(this.opts.intervalMs - quietMs);
    }
  }
}
