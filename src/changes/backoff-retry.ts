// One retry timer with exponential back-off: at most one attempt pending, doubling after each
// schedule until reset (the coordinator's owed undos and owed saves).
export class BackoffRetry {
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly opts: { firstMs: number; maxMs: number; attempt: () => Promise<unknown>; onError: (e: unknown) => void },
  ) {}

  /** Schedules an attempt unless one is pending; an attempt that throws schedules the next. */
  schedule(): void {
    if (this.stopped || this.timer) return;
    const delay = Math.min(this.opts.maxMs, this.opts.firstMs * 2 ** Math.min(this.failures++, 10));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.opts.attempt().catch((e: unknown) => {
        this.opts.onError(e);
        this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  /** The thing succeeded: the next schedule starts from the first delay again. */
  reset(): void {
    this.failures = 0;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
