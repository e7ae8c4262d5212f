import type { Logger } from '../observability/logger.ts';
import type { Broker, OutgoingMessage } from '../ports/broker.ts';
import type { OutboxStore, PendingOutboxEvent } from '../ports/outbox.ts';

export interface OutboxRelayOptions {
  /** Names this relay in the lease (host, pid and a random suffix). */
  holder: string;
  /** How often to look for events committed by other processes (OUTBOX_POLL_MS). */
  pollMs: number;
  /** Events per publish call. */
  batchSize?: number;
  /** How long the relay lease lasts without renewal; a dead holder is replaced after it. */
  leaseMs?: number;
  /** Published events are deleted this long after publication. */
  retentionMs?: number;
  /** Longest wait between attempts while the broker or database fails. */
  maxBackoffMs?: number;
}

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

function toMessage(event: PendingOutboxEvent): OutgoingMessage {
  return {
    id: event.id,
    topic: event.topic,
    key: event.key,
    type: event.type,
    value: event.payload,
    headers: event.headers,
  };
}

/**
 * Publishes the transactional outbox on the broker: reads unpublished events in commit order,
 * publishes them, marks them published. Delivery is at least once — a relay that dies between
 * publishing and marking leaves the events to be published again by whoever holds the lease
 * next — so consumers deduplicate on the event id (the Postgres broker does it on append).
 *
 * Only the holder of the relay lease publishes (one row in `outbox_relay`), which keeps each
 * key's events in order however many API processes run; the others stand by and take over
 * when the holder stops (it releases the lease) or dies (the lease runs out).
 *
 * It runs when woken (`wake()`, called after a commit in this process) and every `pollMs`
 * otherwise, for commits made by other processes.
 *
 * @example
 * const relay = new OutboxRelay(new PostgresOutboxStore(db), broker, logger, { holder, pollMs: 200 });
 * relay.start();
 * users = new UserService(store, logger, { ...options, onEvent: () => relay.wake() });
 * await relay.stop();
 */
export class OutboxRelay {
  readonly #store: OutboxStore;
  readonly #broker: Broker;
  readonly #logger: Logger;
  readonly #holder: string;
  readonly #pollMs: number;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #retentionMs: number;
  readonly #maxBackoffMs: number;
  #running: Promise<void> | undefined;
  #stopping = false;
  #woken = false;
  #wakeUp: (() => void) | undefined;
  #lastPruneAt = 0;
  #published = 0;
  #passes = 0;

  constructor(store: OutboxStore, broker: Broker, logger: Logger, options: OutboxRelayOptions) {
    this.#store = store;
    this.#broker = broker;
    this.#logger = logger;
    this.#holder = options.holder;
    this.#pollMs = options.pollMs;
    this.#batchSize = options.batchSize ?? 100;
    this.#leaseMs = options.leaseMs ?? Math.max(10_000, options.pollMs * 10);
    this.#retentionMs = options.retentionMs ?? 7 * DAY_MS;
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
  }

  /** Events this relay has published since it started (a publish repeated after a failure counts again). */
  get published(): number {
    return this.#published;
  }

  /** Passes completed by the running loop (each looks at the outbox once, batch by batch). */
  get passes(): number {
    return this.#passes;
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  /** Runs a pass now instead of at the next poll (an outbox row was just committed). */
  wake(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  /**
   * Finishes the pass in flight, publishes what the last requests committed, then gives the
   * lease up so another process takes over at once.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wakeUp?.();
    await this.#running;
    if (this.#running !== undefined) {
      await this.#publishPending(true).catch((error: unknown) => {
        this.#logger.warn({ err: error }, 'outbox relay could not publish before stopping');
      });
    }
    await this.#store.releaseLease(this.#holder).catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'outbox relay could not release its lease');
    });
  }

  /**
   * One pass: if this relay holds (or takes) the lease, publishes every unpublished event,
   * batch by batch. Returns how many it published; 0 when another relay holds the lease.
   */
  drain(): Promise<number> {
    return this.#publishPending(false);
  }

  /** drain()'s pass; stop() makes a last one `evenWhenStopping`. */
  async #publishPending(evenWhenStopping: boolean): Promise<number> {
    let count = 0;
    // Idle polls read one index entry and write nothing; the lease is only taken for work.
    if (!(await this.#store.hasUnpublished())) {
      await this.#prune();
      return 0;
    }
    while (evenWhenStopping || !this.#stopping) {
      // Renewed before every batch: a holder that stalls past its lease loses it.
      if (!(await this.#store.acquireLease(this.#holder, this.#leaseMs))) break;
      const batch = await this.#store.unpublished(this.#batchSize);
      if (batch.length === 0) break;
      // One call, in commit order: each key's events reach its partition in order.
      await this.#broker.publish(batch.map(toMessage));
      await this.#store.markPublished(batch.map((e) => e.id));
      count += batch.length;
      this.#published += batch.length;
      this.#logger.debug(
        { count: batch.length, lastSeq: batch.at(-1)?.seq },
        'outbox events published',
      );
      if (batch.length < this.#batchSize) break;
    }
    await this.#prune();
    return count;
  }

  async #prune(): Promise<void> {
    if (Date.now() - this.#lastPruneAt < PRUNE_EVERY_MS) return;
    this.#lastPruneAt = Date.now();
    const pruned = await this.#store.prunePublished(this.#retentionMs);
    if (pruned > 0) this.#logger.info({ pruned }, 'published outbox events pruned');
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      this.#woken = false;
      try {
        await this.drain();
        this.#passes++;
        failures = 0;
      } catch (error) {
        failures++;
        const delay = Math.min(this.#maxBackoffMs, this.#pollMs * 2 ** Math.min(failures, 16));
        this.#logger.error(
          { err: error, failures, retryInMs: delay },
          'outbox relay failed; events stay in the outbox',
        );
        await this.#idle(delay, false);
        continue;
      }
      // A wake during the pass may be for a row the pass did not see: go again at once.
      if (!this.#woken) await this.#idle(this.#pollMs, true);
    }
  }

  async #idle(ms: number, wakeable: boolean): Promise<void> {
    if (this.#stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeUp = () => {
        if (wakeable || this.#stopping) done();
      };
    });
    this.#wakeUp = undefined;
  }
}
