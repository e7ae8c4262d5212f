interface Submission<Item, Result> {
  items: Item[];
  resolve: (results: Result[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: callers submit small batches; whatever arrives while a flush is running is
 * flushed together in the next one, so a thousand concurrent requests cost a handful of
 * durable writes instead of a thousand. Each caller gets back exactly its own results, or the
 * flush's error.
 *
 * @example
 * const committer = new GroupCommitter((messages) => broker.publish(messages), { maxBatch: 1000 });
 * const [result] = await committer.submit([message]);
 */
export class GroupCommitter<Item, Result> {
  readonly #flush: (items: Item[]) => Promise<Result[]>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: Submission<Item, Result>[] = [];
  #pendingCount = 0;
  #inFlight = 0;
  #scheduled = false;
  #idleWaiters: (() => void)[] = [];

  /**
   * @param options.maxBatch items per flush (a single larger submission goes alone).
   * @param options.maxInFlight flushes at once; flushes beyond the first start only when a
   *   full batch is waiting.
   */
  constructor(
    flush: (items: Item[]) => Promise<Result[]>,
    options: { maxBatch: number; maxInFlight?: number },
  ) {
    this.#flush = flush;
    this.#maxBatch = options.maxBatch;
    this.#maxInFlight = options.maxInFlight ?? 1;
  }

  submit(items: Item[]): Promise<Result[]> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ items, resolve, reject });
      this.#pendingCount += items.length;
      // Flush on the next turn of the event loop, so that requests parsed in the same I/O
      // phase share one commit even when the broker is idle.
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#pump();
        });
      }
    });
  }

  /** Resolves when nothing is pending or being flushed. */
  drained(): Promise<void> {
    if (this.#inFlight === 0 && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      // While a flush runs, small submissions wait for it and share the next one: on a broker
      // that serialises appends (the Postgres log locks its partitions) concurrent small flushes
      // only queue behind each other, each paying a commit. A full batch goes at once.
      if (this.#inFlight > 0 && this.#pendingCount < this.#maxBatch) break;
      // Take whole submissions up to maxBatch items (a single larger submission goes alone).
      const group: Submission<Item, Result>[] = [];
      let size = 0;
      while (this.#pending.length > 0) {
        const next = this.#pending[0];
        if (next === undefined || (group.length > 0 && size + next.items.length > this.#maxBatch))
          break;
        group.push(next);
        size += next.items.length;
        this.#pending.shift();
      }
      this.#pendingCount -= size;
      this.#inFlight++;
      void this.#run(group);
    }
  }

  async #run(group: Submission<Item, Result>[]): Promise<void> {
    try {
      const results = await this.#flush(group.flatMap((g) => g.items));
      let at = 0;
      for (const g of group) {
        g.resolve(results.slice(at, at + g.items.length));
        at += g.items.length;
      }
    } catch (error) {
      for (const g of group) g.reject(error);
    } finally {
      this.#inFlight--;
      this.#pump();
      if (this.#inFlight === 0 && this.#pending.length === 0) {
        for (const wake of this.#idleWaiters.splice(0)) wake();
      }
    }
  }

  get pendingItems(): number {
    return this.#pendingCount;
  }
}
