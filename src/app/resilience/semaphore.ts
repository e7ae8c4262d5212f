/** Bounds concurrency: at most `limit` holders at once, the rest queue in order. */
export class Semaphore {
  readonly #limit: number;
  #held = 0;
  readonly #waiting: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  get inUse(): number {
    return this.#held;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (this.#held < this.#limit) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
        reject,
      };
      const abort = () => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter.
    if (next) next.resolve();
    else this.#held = Math.max(0, this.#held - 1);
  }
}
