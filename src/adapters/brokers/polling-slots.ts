import type { EventEmitter } from 'node:events';
import type { Consumer, ConsumerOptions } from '../../ports/broker.ts';

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

/**
 * A consumer of a polling transport (Postgres, Redis): `work` claims what has work
 * (partitions, a shard), hands a batch to the handler and commits; `renewLeases` renews what
 * is being worked on. A subclass calls startPolling() last in its constructor (`work` runs at
 * once).
 */
export abstract class PollingConsumer implements Consumer {
  #slots: PollingSlots | undefined;

  /** One round of work; false when there was nothing to do. */
  protected abstract work(): Promise<boolean>;
  protected abstract renewLeases(): void;

  protected startPolling(
    options: ConsumerOptions,
    timing: { pollMs: number; leaseMs: number },
    published: EventEmitter,
  ): void {
    this.#slots = new PollingSlots({
      concurrency: options.concurrency,
      pollMs: timing.pollMs,
      work: () => this.work(),
      onError: options.onError,
      heartbeat: { leaseMs: timing.leaseMs, renew: () => this.renewLeases() },
      published,
    });
    this.#slots.start();
  }

  /** Whether stop() was called: a batch claimed since is released unhandled. */
  protected get stopping(): boolean {
    return this.#slots?.stopping.aborted ?? false;
  }

  async stop(): Promise<void> {
    await this.#slots?.stop();
  }
}
