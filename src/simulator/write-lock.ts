// The API server's one process-wide blocking lock (vyos-api.md §6): writers queue, nobody gets "busy".

export class WriteLock {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** True while a writer runs; a direct (CLI-like) commit then meets vyatta's commit lock. */
  get busy(): boolean {
    return this.holders > 0;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      this.holders++;
      try {
        return await task();
      } finally {
        this.holders--;
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
