import type { EventEmitter } from 'node:events';

/**
 * The work loop of a polling consumer (the Postgres and Redis transports): `concurrency`
 * slots each call `work` until stopped. A slot that found nothing waits `pollMs`, or less when
 * woken (something was published, the consumer stops). After a failure, such as an unreachable
 * database, it waits longer for each failure in a row (ten polls, doubling, at most 5 s,
 * jittered), so an outage is not met with a tight loop of failing calls and log lines; the
 * first success resets it. While it runs, a heartbeat renews the leases of what is being
 * worked on, so a slow batch is not taken over.
 */
export interface PollingSlotsOptions {
  concurrency: number;
  pollMs: number;
  /** Does one round of work; false when it found nothing to do. */
  work: () => Promise<boolean>;
  onError?: ((error: unknown) => void) | undefined;
  /** Renews the leases of what is being worked on; called every third of `leaseMs`. */
  heartbeat: { leaseMs: number; renew: () => void };
  /** Wakes the idle slots whenever it emits `published` (something was appended). */
  published: EventEmitter;
}

export class PollingSlots {
  readonly #stopping = new AbortController();
  readonly #wakers = new Set<() => void>();
  readonly #options: PollingSlotsOptions;
  #slots: Promise<void>[] = [];
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(options: PollingSlotsOptions) {
    this.#options = options;
  }

  /** Starts the slots (once the owner is fully constructed: `work` runs at once). */
  start(): void {
    const { concurrency, work, onError, heartbeat, published } = this.#options;
    this.#heartbeat = setInterval(heartbeat.renew, Math.max(50, Math.floor(heartbeat.leaseMs / 3)));
    this.#heartbeat.unref();
    published.on('published', this.wake);
    this.#slots = Array.from({ length: concurrency }, () => this.#run(work, onError));
  }

  /** Aborted once stop() is called: work in progress may check it before taking more. */
  get stopping(): AbortSignal {
    return this.#stopping.signal;
  }

  /** Ends every slot's wait at once. */
  readonly wake = (): void => {
    for (const wake of this.#wakers) wake();
  };

  /** Resolves when every slot has finished the work it was doing (its leases renewed until then). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.wake();
    await Promise.all(this.#slots);
    clearInterval(this.#heartbeat);
    this.#options.published.off('published', this.wake);
  }

  async #run(work: () => Promise<boolean>, onError?: (error: unknown) => void): Promise<void> {
    const signal = this.#stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      let worked = false;
      try {
        worked = await work();
        failures = 0;
      } catch (error) {
        onError?.(error);
        failures++;
        const ceiling = Math.min(this.#options.pollMs * 10 * 2 ** (failures - 1), 5000);
        await this.#idle(ceiling / 2 + (Math.random() * ceiling) / 2);
        continue;
      }
      if (!worked) await this.#idle(this.#options.pollMs);
    }
  }

  async #idle(ms: number): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    let wake = () => {};
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#wakers.add(wake);
    });
    this.#wakers.delete(wake);
  }
}
