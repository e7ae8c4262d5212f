import type { Logger } from '../observability/logger.ts';
import type {
  Broker,
  Consumer,
  ConsumerOptions,
  OutgoingMessage,
  PartitionLag,
  PublishResult,
  ShardPosition,
} from '../ports/broker.ts';
import type { BrokerLog } from '../ports/broker-log.ts';
import type { DedupeConfirm, DedupeStore } from '../ports/dedupe.ts';

export interface DedupingOptions {
  windowMs: number;
  /** How long a claim may take before the publish goes ahead without it (fail open). */
  claimTimeoutMs?: number;
  /** How long a confirmation waits for the next claim to carry it before going on its own. */
  confirmDelayMs?: number;
}

/** Confirmations kept while the database cannot take them; older ones are dropped (harmless). */
const MAX_PENDING_CONFIRMS = 100_000;

/**
 * The dedupe window on a broker that cannot tell duplicates itself (Kafka, Redis): before
 * each publish, one statement claims the messages' ids in the database (event_dedupe); ids
 * accepted and confirmed within the window are answered `duplicate` and not published.
 *
 * A claim is confirmed once its publish succeeded, and only a confirmed acceptance makes a
 * later send a duplicate: a publish that failed, or a process that died before publishing,
 * leaves an unconfirmed claim, and the client's retry is published again rather than told
 * "duplicate" about an event the broker may not have. Confirmations ride on the next claim
 * (one statement per group commit under load) or go on their own after `confirmDelayMs`.
 *
 * The database is not needed to accept events on these brokers: when a claim fails or takes
 * longer than `claimTimeoutMs`, the batch is published without it (every message `appended`),
 * and the workers' upsert on the event id still stores each event once.
 */
export class DedupingBroker implements Broker {
  readonly #inner: Broker;
  readonly #store: DedupeStore;
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #claimTimeoutMs: number;
  readonly #confirmDelayMs: number;
  #pending: DedupeConfirm[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failOpenLoggedAt = 0;
  /** Confirmations that failed in a row: they are retried less and less often. */
  #flushFailures = 0;

  constructor(inner: Broker, store: DedupeStore, logger: Logger, options: DedupingOptions) {
    this.#inner = inner;
    this.#store = store;
    this.#logger = logger;
    this.#windowMs = options.windowMs;
    this.#claimTimeoutMs = options.claimTimeoutMs ?? 1000;
    this.#confirmDelayMs = options.confirmDelayMs ?? 50;
  }

  get name(): string {
    return this.#inner.name;
  }

  get log(): BrokerLog {
    return this.#inner.log;
  }

  /** The broker underneath (tests reach the transport's own methods through it). */
  get inner(): Broker {
    return this.#inner;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]> {
    if (messages.length === 0) return [];
    const confirms = this.#takePending();
    let claims: { slot: number; duplicate: boolean }[] | undefined;
    try {
      claims = await withTimeout(
        this.#store.claim(
          confirms,
          messages.map((m) => ({ id: m.id, generation: m.generation ?? 0 })),
          this.#windowMs,
        ),
        this.#claimTimeoutMs,
      );
    } catch (error) {
      this.#keep(confirms);
      this.#failOpen(error);
    }
    const fresh =
      claims === undefined ? [...messages] : messages.filter((_, i) => !claims[i]?.duplicate);
    const published = await this.#inner.publish(fresh);
    const byIndex = new Map<number, PublishResult>();
    let next = 0;
    const results = messages.map((m, i): PublishResult => {
      if (claims?.[i]?.duplicate) return { id: m.id, status: 'duplicate' };
      const result = published[next++] ?? { id: m.id, status: 'appended' };
      byIndex.set(i, result);
      return result;
    });
    if (claims !== undefined) {
      const confirmed: DedupeConfirm[] = [];
      for (const [i, result] of byIndex) {
        const message = messages[i];
        const claim = claims[i];
        if (message === undefined || claim === undefined || result.status !== 'appended') continue;
        confirmed.push({
          slot: claim.slot,
          id: message.id,
          generation: message.generation ?? 0,
          partition: result.partition ?? null,
          offset: result.offset ?? null,
        });
      }
      this.#keep(confirmed);
    }
    return results;
  }

  consume(options: ConsumerOptions): Promise<Consumer> {
    return this.#inner.consume(options);
  }

  lag(group: string): Promise<PartitionLag[]> {
    return this.#inner.lag(group);
  }

  positions(group: string): Promise<ShardPosition[]> {
    return this.#inner.positions(group);
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
    await this.#flush();
    await this.#inner.close();
  }

  #takePending(): DedupeConfirm[] {
    const taken = this.#pending;
    this.#pending = [];
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return taken;
  }

  #keep(confirms: readonly DedupeConfirm[]): void {
    if (confirms.length === 0) return;
    this.#pending.push(...confirms);
    if (this.#pending.length > MAX_PENDING_CONFIRMS) {
      this.#pending.splice(0, this.#pending.length - MAX_PENDING_CONFIRMS);
    }
    const delay = this.#confirmDelayMs * 2 ** Math.min(this.#flushFailures, 8);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flushing = this.#flush().finally(() => {
        this.#flushing = undefined;
      });
    }, delay);
    this.#timer.unref();
  }

  /** Sends the pending confirmations on their own (no publish came to carry them). */
  async #flush(): Promise<void> {
    const confirms = this.#takePending();
    if (confirms.length === 0) return;
    try {
      await withTimeout(this.#store.claim(confirms, [], this.#windowMs), this.#claimTimeoutMs);
      this.#flushFailures = 0;
    } catch (error) {
      // Unconfirmed claims only mean a resend is published again; keep trying a while.
      this.#flushFailures++;
      this.#keep(confirms);
      this.#failOpen(error);
    }
  }

  #failOpen(error: unknown): void {
    // One line a minute at most: an outage would otherwise log at the ingest rate.
    if (Date.now() - this.#failOpenLoggedAt < 60_000) return;
    this.#failOpenLoggedAt = Date.now();
    this.#logger.warn(
      { err: error },
      'dedupe window unavailable (database): publishing without it; workers still store each event once',
    );
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
