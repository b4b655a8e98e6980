// A FIFO async mutex: the router lock's in-process half (the PostgreSQL advisory lock is the other).
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves, in call order, to a function that releases the mutex. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const turn = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return turn;
  }
}
