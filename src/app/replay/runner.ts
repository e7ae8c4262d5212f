import { addOutcomes, type ReplayTarget } from '../../domain/replays.ts';
import { isRetryable } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { BrokerLog, LogReader } from '../../ports/broker-log.ts';
import type { ClaimedReplay, ReplayStore } from '../../ports/replay-store.ts';
import { TokenBucket } from '../resilience/token-bucket.ts';
import type { ReplayTargetHandler } from './targets.ts';

export interface ReplayRunnerOptions {
  /** Identifies this runner in replay leases. */
  owner: string;
  pollMs: number;
  /** A replay whose runner stops renewing (it died) is taken over after this. */
  leaseMs?: number;
  /** Called after a batch recorded webhook deliveries (wakes the dispatcher in this process). */
  onDeliveries?: () => void;
}

/** Samples of changes kept per replay (the first ones). */
const MAX_SAMPLES = 20;

/**
 * Runs replays in the worker role, one at a time per process, each under a lease so that a
 * replay has one runner: reads the selection from the broker's log at its cursor, a batch at
 * a time at the replay's rate, lets the target prepare the batch, and commits the batch's
 * effects with the cursor and progress in one transaction. A pause or a cancel takes effect at
 * the next batch; a runner that dies leaves the lease to expire and another resumes from the
 * last committed cursor: nothing committed is done twice.
 */
export class ReplayRunner {
  readonly #store: ReplayStore;
  readonly #log: BrokerLog;
  readonly #targets: Partial<Record<ReplayTarget, ReplayTargetHandler>>;
  readonly #logger: Logger;
  readonly #options: Required<Omit<ReplayRunnerOptions, 'onDeliveries'>> &
    Pick<ReplayRunnerOptions, 'onDeliveries'>;
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(
    store: ReplayStore,
    log: BrokerLog,
    targets: Partial<Record<ReplayTarget, ReplayTargetHandler>>,
    logger: Logger,
    options: ReplayRunnerOptions,
  ) {
    this.#store = store;
    this.#log = log;
    this.#targets = targets;
    this.#logger = logger;
    this.#options = { leaseMs: 30_000, ...options };
  }

  start(): void {
    this.#loop ??= this.#poll();
  }

  /** Looks for replays now (one was just created in this process). */
  wake(): void {
    this.#wake?.();
  }

  /** Stops after the batch in flight; the replay's lease is given back for another to resume. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #poll(): Promise<void> {
    const targets = Object.keys(this.#targets) as ReplayTarget[];
    while (!this.#stopping.signal.aborted) {
      let replay: ClaimedReplay | undefined;
      try {
        replay = await this.#store.claim(this.#options.owner, this.#options.leaseMs, targets);
      } catch (error) {
        this.#logger.warn({ err: error }, 'could not look for replays; trying again later');
      }
      if (replay !== undefined) {
        await this.#run(replay);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.pollMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async #run(replay: ClaimedReplay): Promise<void> {
    const { owner, leaseMs } = this.#options;
    const target = this.#targets[replay.target];
    const context = { replayId: replay.id, target: replay.target, dryRun: replay.dryRun };
    this.#logger.info(
      { ...context, selection: replay.selection, resumedFrom: replay.cursor ?? undefined },
      replay.cursor === null ? 'replay started' : 'replay resumed',
    );
    // Renews the lease while a long batch (an LLM) is in flight, so it is not taken over.
    const heartbeat = setInterval(
      () => {
        this.#store.renew(replay.id, owner, leaseMs).catch(() => {});
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();
    let reader: LogReader | undefined;
    let progress = replay.progress;
    let samples = replay.samples;
    try {
      if (target === undefined) throw new Error(`no ${replay.target} target in this process`);
      reader = await this.#log.open(
        {
          from: new Date(replay.selection.from),
          to: new Date(replay.selection.to),
          topics: replay.selection.topics,
          ...(replay.selection.types === null ? {} : { types: replay.selection.types }),
          ...(replay.selection.keys === null ? {} : { keys: replay.selection.keys }),
        },
        replay.cursor ?? undefined,
      );
      const rate = replay.ratePerSecond;
      const bucket =
        rate > 0
          ? new TokenBucket({ perMinute: rate * 60, capacity: Math.max(1, rate) })
          : undefined;
      const size = rate > 0 ? Math.max(1, Math.min(target.batchSize, rate)) : target.batchSize;
      for (;;) {
        if (this.#stopping.signal.aborted) break;
        if ((await this.#store.statusOf(replay.id)) !== 'running') break;
        if (bucket !== undefined) await sleep(bucket.reserve(size), this.#stopping.signal);
        if (this.#stopping.signal.aborted) break;
        const page = await reader.next(size);
        const prepared = await target.prepare(replay, page.messages, replay.dryRun);
        const kept = [...samples, ...(prepared.samples ?? [])].slice(0, MAX_SAMPLES);
        const before = progress;
        const committed = await this.#store.commit({
          id: replay.id,
          owner,
          leaseMs,
          cursor: page.cursor,
          done: page.done,
          samples: kept,
          ...(prepared.enrichment === undefined ? {} : { enrichment: prepared.enrichment }),
          ...(prepared.deliveries === undefined ? {} : { deliveries: prepared.deliveries }),
          tally: (recorded) => addOutcomes(before, prepared.outcomes(recorded)),
        });
        // Paused, cancelled or taken over since: the batch was not committed.
        if (committed === undefined) break;
        progress = committed;
        samples = kept;
        if ((prepared.deliveries?.length ?? 0) > 0) this.#options.onDeliveries?.();
        if (page.done) {
          this.#logger.info({ ...context, progress }, 'replay completed');
          break;
        }
      }
      await this.#store.release(replay.id, owner);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const fatal = !isRetryable(error);
      this.#logger.warn(
        { ...context, err: error, progress },
        fatal ? 'replay failed' : 'replay interrupted; it resumes from its cursor',
      );
      await this.#store.release(replay.id, owner, { message, fatal }).catch(() => {});
      // A transient failure (the database, the broker) is not retried at once.
      if (!fatal) await sleep(this.#options.pollMs * 5, this.#stopping.signal);
    } finally {
      clearInterval(heartbeat);
      await reader?.close().catch(() => {});
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
