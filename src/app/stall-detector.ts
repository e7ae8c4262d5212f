import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker, ShardPosition } from '../ports/broker.ts';

/** A shard of the log a consumer group does not get past. */
export interface StalledShard {
  group: string;
  /** Kafka and Redis keep a log per topic; the Postgres log's partitions carry every topic. */
  topic: string | undefined;
  partition: number;
  committed: number;
  lag: number;
  /** The event that holds it, where the broker can tell (see ShardPosition.head). */
  headEventId: string | undefined;
  /** Since when its committed offset has not moved while it had lag. */
  since: Date;
  stalledForMs: number;
}

export interface StallDetectorOptions {
  groups: readonly string[];
  /** How long a shard with lag may keep its committed offset before it is stalled; 0 = never. */
  stallAfterMs: number;
  /** How often the broker is asked (default a quarter of stallAfterMs, 100 ms to 5 s). */
  pollMs?: number;
  logger: Logger;
  /** Where herald_partition_stalled and herald_partition_commit_age_seconds are kept. */
  metrics?: Metrics;
  /** The clock (tests pass their own). */
  now?: () => number;
}

interface Watched {
  committed: number;
  /** When the committed offset last moved, or the shard last had nothing waiting. */
  movedAt: number;
  position: ShardPosition;
  stalled: boolean;
}

/**
 * Watches every shard's committed offset for the consumer groups: one with lag whose offset has
 * not moved for `stallAfterMs` is stalled, whatever holds it (an event failing on every try, a
 * store that refuses it transiently, a consumer that hangs, no consumer at all). A lag bar
 * cannot tell a busy partition from a stuck one; this can. Logs when a shard stalls and when it
 * moves again, keeps the metrics, and answers `stalled()` for readiness and the dashboard.
 *
 * @example
 * const stalls = new StallDetector(broker, { groups: ['herald-processors'], stallAfterMs: 60_000, logger });
 * stalls.start();
 * stalls.stalled(); // [{ group, partition: 3, headEventId: 'evt_…', stalledForMs: 75_000, … }]
 */
export class StallDetector {
  readonly #broker: Pick<Broker, 'positions'>;
  readonly #options: StallDetectorOptions;
  readonly #now: () => number;
  readonly #watched = new Map<string, Watched & { group: string }>();
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;

  constructor(broker: Pick<Broker, 'positions'>, options: StallDetectorOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#options.stallAfterMs > 0;
  }

  /** Looks at the broker every pollMs until stopped (nothing when stallAfterMs is 0). */
  start(): void {
    if (!this.enabled || this.#timer !== undefined) return;
    const every =
      this.#options.pollMs ?? Math.min(Math.max(this.#options.stallAfterMs / 4, 100), 5000);
    this.#timer = setInterval(() => void this.check(), every);
    this.#timer.unref();
    void this.check();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#checking;
  }

  /** One look at every group's positions (start() does this on a timer). */
  check(): Promise<void> {
    this.#checking ??= this.#lookAtEveryGroup().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** The stalled shards as of the last look, longest stalled first. */
  stalled(): StalledShard[] {
    const now = this.#now();
    const out: StalledShard[] = [];
    for (const w of this.#watched.values()) {
      if (!w.stalled) continue;
      out.push({
        group: w.group,
        topic: w.position.topic,
        partition: w.position.partition,
        committed: w.committed,
        lag: w.position.lag,
        headEventId: w.position.head?.id,
        since: new Date(w.movedAt),
        stalledForMs: now - w.movedAt,
      });
    }
    return out.sort((a, b) => b.stalledForMs - a.stalledForMs);
  }

  async #lookAtEveryGroup(): Promise<void> {
    for (const group of this.#options.groups) {
      let positions: ShardPosition[];
      try {
        positions = await this.#broker.positions(group);
      } catch (error) {
        // The broker's own outage is reported by readiness; what was known stays.
        this.#options.logger.debug({ err: error, group }, 'stall check could not read the broker');
        continue;
      }
      this.#observe(group, positions, this.#now());
    }
  }

  #observe(group: string, positions: readonly ShardPosition[], now: number): void {
    const seen = new Set<string>();
    for (const position of positions) {
      const key = `${group}\u0000${position.topic ?? ''}\u0000${position.partition}`;
      seen.add(key);
      const before = this.#watched.get(key);
      const moved =
        before === undefined || before.committed !== position.committed || position.lag === 0;
      const movedAt = moved ? now : before.movedAt;
      const stalled = position.lag > 0 && now - movedAt >= this.#options.stallAfterMs;
      const watched = { group, committed: position.committed, movedAt, position, stalled };
      this.#watched.set(key, watched);
      if (stalled && !before?.stalled) this.#logStalled(watched, now);
      if (!stalled && before?.stalled) this.#logMoving(watched, before, now);
    }
    for (const key of this.#watched.keys()) {
      if (key.startsWith(`${group}\u0000`) && !seen.has(key)) this.#watched.delete(key);
    }
    this.#report(group, now);
  }

  #logStalled(w: Watched & { group: string }, now: number): void {
    this.#options.logger.warn(
      {
        group: w.group,
        topic: w.position.topic,
        partition: w.position.partition,
        committedOffset: w.committed,
        lag: w.position.lag,
        headEventId: w.position.head?.id,
        stalledForMs: now - w.movedAt,
      },
      'partition stalled: its committed offset has not moved while events wait',
    );
  }

  #logMoving(w: Watched & { group: string }, before: Watched, now: number): void {
    this.#options.logger.info(
      {
        group: w.group,
        topic: w.position.topic,
        partition: w.position.partition,
        committedOffset: w.committed,
        lag: w.position.lag,
        stalledForMs: now - before.movedAt,
      },
      'partition moving again',
    );
  }

  /** The metrics per group and partition (Kafka and Redis topics of a partition: the worst). */
  #report(group: string, now: number): void {
    const metrics = this.#options.metrics;
    if (metrics === undefined) return;
    const worst = new Map<number, { stalled: number; age: number }>();
    for (const w of this.#watched.values()) {
      if (w.group !== group) continue;
      const partition = w.position.partition;
      const age = w.position.lag > 0 ? (now - w.movedAt) / 1000 : 0;
      const current = worst.get(partition) ?? { stalled: 0, age: 0 };
      worst.set(partition, {
        stalled: Math.max(current.stalled, w.stalled ? 1 : 0),
        age: Math.max(current.age, age),
      });
    }
    for (const [partition, { stalled, age }] of worst) {
      const labels = { group, partition: String(partition) };
      metrics.partitionStalled.set(labels, stalled);
      metrics.partitionCommitAge.set(labels, Math.round(age * 1000) / 1000);
    }
  }
}
