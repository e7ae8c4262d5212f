import { EventEmitter } from 'node:events';
import {
  type ConsumerGroupJoinPayload,
  Consumer as KafkaConsumer,
  ListOffsetTimestamps,
  type MessagesStream,
  stringDeserializers,
} from '@platformatic/kafka';
import type { Consumer, ConsumerOptions, DeliveredMessage } from '../../../ports/broker.ts';
import { handOver } from '../batch-handler.ts';
import type { FullKafkaOptions } from './broker.ts';
import { type Received, toDelivered } from './codec.ts';

interface PartitionState {
  topic: string;
  partition: number;
  queue: DeliveredMessage[];
  leaderEpochs: number[];
  /**
   * The offset of the only record this partition may queue next: the group's committed offset
   * when the partition was assigned (its log start if there is none), then one past each record
   * queued. Undefined until that lookup has answered; records are dropped until then.
   */
  expected: bigint | undefined;
  /** Since when the stream has been past `expected` (records skipped), if it is. */
  gapSince: number | undefined;
  busy: boolean;
  /** The batch the handler is working on (taken off the queue). */
  inFlight: DeliveredMessage[];
  notBefore: number;
}

/**
 * One member of a consumer group. The fetch stream fills a queue per assigned partition; up to
 * `concurrency` slots each take a batch from one idle partition, so a partition is handled by
 * one batch at a time, in order. The handled prefix is committed; the rest goes back to the
 * front of its queue with a not-before time (no seek needed).
 *
 * A partition's queue only ever takes the exact next offset, starting from the committed one:
 * the stream can deliver records of partitions taken away in a rebalance, refetch records, or
 * jump ahead (a fetch answered after a rebalance reset, or after our own rewind, overwrites the
 * position with its own: @platformatic/kafka 2.12.1 messages-stream.js `#pushRecords`). So
 * records of unassigned partitions and below the expected offset are dropped, records past it
 * are a gap that is never handled or committed across: the stream is pointed back at the
 * expected offset after every fetch until the gap fills, and reopened if it does not.
 */
export class KafkaPartitionConsumer implements Consumer {
  readonly #options: ConsumerOptions;
  /** Kafka topic name → the Herald topic delivered messages carry. */
  readonly #heraldTopic: (kafkaTopic: string) => string;
  readonly #consumer: KafkaConsumer<string, string, string, string>;
  readonly #topics: Set<string>;
  readonly #gapHealTimeoutMs: number;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #wake = new EventEmitter();
  readonly #stopping = new AbortController();
  #stream: MessagesStream<string, string, string, string> | undefined;
  #assigned = new Set<string>();
  #memberId = '';
  #generation = -1;
  #buffered = 0;
  #alignScheduled = false;
  #healing = false;
  #watchdog: NodeJS.Timeout | undefined;
  #slots: Promise<void>[] = [];
  #stopped: Promise<void> | undefined;
  #markClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.#markClosed = resolve;
  });

  constructor(
    config: FullKafkaOptions,
    options: ConsumerOptions,
    heraldTopic: (kafkaTopic: string) => string,
  ) {
    this.#options = options;
    this.#heraldTopic = heraldTopic;
    this.#topics = new Set(options.topics);
    this.#gapHealTimeoutMs = config.gapHealTimeoutMs;
    this.#consumer = new KafkaConsumer({
      clientId: options.consumerId,
      groupId: options.group,
      bootstrapBrokers: [...config.brokers],
      deserializers: stringDeserializers,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: config.heartbeatIntervalMs,
      rebalanceTimeout: config.sessionTimeoutMs,
      connectTimeout: config.connectTimeoutMs,
      autocommit: false,
      maxWaitTime: 200,
    });
    // Registered before any stream's own listener, so states are settled before it refetches.
    this.#consumer.on('consumer:group:join', (payload) => this.#joined(payload));
  }

  async start(): Promise<void> {
    this.#stream = await this.#openStream();
    this.#slots = Array.from({ length: this.#options.concurrency }, () => this.#runSlot());
    const every = Math.max(Math.min(1000, Math.floor(this.#gapHealTimeoutMs / 4)), 50);
    this.#watchdog = setInterval(() => this.#checkGaps(), every);
    this.#watchdog.unref();
  }

  async #openStream(): Promise<MessagesStream<string, string, string, string>> {
    const stream = await this.#consumer.consume({
      topics: [...this.#topics],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    stream.on('data', (record: Received) => {
      if (stream === this.#stream) this.#receive(record);
    });
    stream.on('error', (error: Error) => this.#options.onError?.(error));
    // 'fetch' is emitted just before a response's records are pushed; the tick runs after them
    // and before the next fetch is built, which is when a rewind sticks.
    stream.on('fetch', () => this.#scheduleAlign());
    // After a rebalance the stream restarts every partition at its committed offset.
    stream.on('offsets', () => this.#alignAll());
    return stream;
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping.abort();
      clearInterval(this.#watchdog);
      this.#wake.emit('wake');
      await Promise.all(this.#slots);
      await this.#stream?.close().catch((error: unknown) => this.#options.onError?.(error));
      await this.#consumer.close(true).catch((error: unknown) => this.#options.onError?.(error));
      this.#markClosed();
    })();
    return this.#stopped;
  }

  /**
   * Drops the connections as a killed process would: no LeaveGroup (the pool is closed before
   * the client's close tries to send one), nothing committed, the handler abandoned. The
   * coordinator gives the partitions away once the session times out.
   */
  async crash(): Promise<void> {
    this.#stopping.abort();
    clearInterval(this.#watchdog);
    this.#wake.emit('wake');
    this.#stream?.destroy();
    // Close the client's connection pool first: then its close finds no coordinator connection
    // to send a LeaveGroup on, and only stops the heartbeat timer.
    const pool = connectionsOf(this.#consumer);
    await pool?.close();
    await this.#consumer.close(true).catch(() => {});
    this.#stopped = Promise.resolve();
    this.#markClosed();
  }

  /** The first record this member holds of a partition (in flight, or next in its queue). */
  headOf(group: string, topic: string, partition: number): DeliveredMessage | undefined {
    if (group !== this.#options.group) return undefined;
    const state = this.#partitions.get(`${topic}:${partition}`);
    if (state === undefined || !this.#assigned.has(`${topic}:${partition}`)) return undefined;
    return state.inFlight[0] ?? state.queue[0];
  }

  #joined({ memberId, generationId, assignments }: ConsumerGroupJoinPayload): void {
    const assigned = new Set<string>();
    for (const a of assignments ?? [])
      for (const p of a.partitions) assigned.add(`${a.topic}:${p}`);
    // Only a member that took part in every generation since can be sure nobody else consumed
    // (and committed) a partition it keeps; otherwise every partition starts over.
    const continuous = memberId === this.#memberId && generationId === this.#generation + 1;
    this.#memberId = memberId;
    this.#generation = generationId ?? -1;
    this.#assigned = assigned;
    for (const [key, state] of this.#partitions) {
      // A batch in progress finishes, but is not committed: the state is no longer current.
      if (!continuous || !assigned.has(key)) this.#forget(key, state);
    }
    const fresh: PartitionState[] = [];
    for (const a of assignments ?? []) {
      for (const partition of a.partitions) {
        const key = `${a.topic}:${partition}`;
        if (this.#partitions.has(key)) continue;
        const state: PartitionState = {
          topic: a.topic,
          partition,
          queue: [],
          leaderEpochs: [],
          expected: undefined,
          gapSince: undefined,
          busy: false,
          inFlight: [],
          notBefore: 0,
        };
        this.#partitions.set(key, state);
        fresh.push(state);
      }
    }
    if (fresh.length > 0) void this.#learnStart(fresh);
  }

  /** Sets each new partition's expected offset: committed, else (or if deleted) the log start. */
  async #learnStart(states: PartitionState[]): Promise<void> {
    const byTopic = new Map<string, number[]>();
    for (const s of states) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition]);
    const current = () => states.filter((s) => this.#partitions.get(keyOf(s)) === s);
    while (!this.#stopping.signal.aborted && current().length > 0) {
      try {
        const [committed, earliest] = await Promise.all([
          this.#consumer.listCommittedOffsets({
            topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
          }),
          this.#consumer.listOffsets({
            topics: [...byTopic.keys()],
            partitions: Object.fromEntries(byTopic),
            timestamp: ListOffsetTimestamps.EARLIEST,
          }),
        ]);
        for (const state of current()) {
          const start = earliest.get(state.topic)?.[state.partition] ?? 0n;
          const done = committed.get(state.topic)?.[state.partition] ?? -1n;
          state.expected = done > start ? done : start;
        }
        this.#alignAll();
        return;
      } catch (error) {
        this.#options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  #receive(record: Received): void {
    const state = this.#partitions.get(`${record.topic}:${record.partition}`);
    // Not assigned to this member (a fetch answered after a rebalance), or its start not known.
    if (state === undefined || state.expected === undefined) return;
    // A refetch of what is already queued or handled.
    if (record.offset < state.expected) return;
    if (record.offset > state.expected) {
      // The stream skipped records: never queue across the gap; point the stream back.
      state.gapSince ??= Date.now();
      this.#scheduleAlign();
      return;
    }
    state.gapSince = undefined;
    state.expected = record.offset + 1n;
    state.queue.push(toDelivered(record, this.#heraldTopic(record.topic)));
    state.leaderEpochs.push(record.leaderEpoch);
    this.#buffered++;
    // Backpressure: stop fetching while far ahead of the handlers.
    if (this.#buffered > this.#options.batchSize * Math.max(this.#options.concurrency, 1) * 20) {
      this.#stream?.pause();
    }
    this.#wake.emit('wake');
  }

  /**
   * Aligns on the next tick: after the current response's records are all pushed (the stream
   * sets its position per batch while pushing, which would undo an earlier rewind) and before
   * the stream builds its next fetch (itself scheduled on a later tick).
   */
  #scheduleAlign(): void {
    if (this.#alignScheduled) return;
    this.#alignScheduled = true;
    process.nextTick(() => {
      this.#alignScheduled = false;
      this.#alignAll();
    });
  }

  /** Points the stream at each partition's expected offset, wherever it has got to. */
  #alignAll(): void {
    const stream = this.#stream;
    if (stream === undefined || stream.destroyed) return;
    // Records still in the stream's buffer have moved its position on legitimately.
    const settled = stream.readableLength === 0;
    for (const [key, state] of this.#partitions) {
      if (state.expected === undefined) continue;
      const position = stream.offsetsToFetch.get(key);
      if (position === state.expected) continue;
      if (!settled && state.gapSince === undefined) continue;
      if (position !== undefined && position > state.expected) state.gapSince ??= Date.now();
      stream.offsetsToFetch.set(key, state.expected);
    }
  }

  /**
   * The last resort for a gap that rewinding did not fill: records deleted by retention are
   * given up on (reported); otherwise the stream is reopened, which starts a new fetch session
   * from the committed offsets. Neither can skip a record that still exists.
   */
  #checkGaps(): void {
    if (this.#healing || this.#stopping.signal.aborted) return;
    this.#alignAll();
    const now = Date.now();
    const stuck = [...this.#partitions.values()].filter(
      (s) => s.gapSince !== undefined && now - s.gapSince >= this.#gapHealTimeoutMs,
    );
    if (stuck.length === 0) return;
    this.#healing = true;
    this.#heal(stuck)
      .catch((error: unknown) => this.#options.onError?.(error))
      .finally(() => {
        this.#healing = false;
      });
  }

  async #heal(stuck: PartitionState[]): Promise<void> {
    const byTopic = new Map<string, number[]>();
    for (const s of stuck) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition]);
    const earliest = await this.#consumer.listOffsets({
      topics: [...byTopic.keys()],
      partitions: Object.fromEntries(byTopic),
      timestamp: ListOffsetTimestamps.EARLIEST,
    });
    let reopen = false;
    for (const state of stuck) {
      if (this.#partitions.get(keyOf(state)) !== state || state.expected === undefined) continue;
      const start = earliest.get(state.topic)?.[state.partition] ?? 0n;
      if (start > state.expected) {
        this.#options.onError?.(
          new Error(
            `Kafka ${keyOf(state)}: offsets ${state.expected}..${start - 1n} were deleted (retention) before they were handled`,
          ),
        );
        state.expected = start;
        state.gapSince = undefined;
      } else {
        reopen = true;
      }
    }
    if (!reopen || this.#stopping.signal.aborted) return;
    const stale = this.#stream;
    this.#options.onError?.(
      new Error(
        `Kafka consumer ${this.#options.consumerId}: ${stuck.map(keyOf).join(', ')} skipped records not fetched again within ${this.#gapHealTimeoutMs} ms; reopening the fetch stream`,
      ),
    );
    // Open the new one first: the topics stay subscribed, so the group does not rebalance.
    const fresh = await this.#openStream();
    if (this.#stopping.signal.aborted) {
      // stop() closed the stream it knew of; this one would be left running.
      await fresh.close().catch(() => {});
      return;
    }
    this.#stream = fresh;
    for (const state of stuck) if (state.gapSince !== undefined) state.gapSince = Date.now();
    await stale?.close().catch((error: unknown) => this.#options.onError?.(error));
  }

  #forget(key: string, state: PartitionState): void {
    this.#buffered -= state.queue.length;
    this.#partitions.delete(key);
  }

  async #runSlot(): Promise<void> {
    const { signal } = this.#stopping;
    while (!signal.aborted) {
      const state = this.#pick();
      if (state === undefined) {
        await this.#idle();
        continue;
      }
      await this.#work(state);
    }
  }

  /** The idle partition with queued records that has waited longest, if any may go now. */
  #pick(): PartitionState | undefined {
    const now = Date.now();
    let best: PartitionState | undefined;
    for (const state of this.#partitions.values()) {
      if (state.busy || state.queue.length === 0 || state.notBefore > now) continue;
      if (best === undefined || state.notBefore < best.notBefore) best = state;
    }
    return best;
  }

  /** Waits for a new record, a finished batch, a retry coming due or the stop. */
  async #idle(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    const now = Date.now();
    let wait = 250;
    for (const s of this.#partitions.values()) {
      if (!s.busy && s.queue.length > 0) wait = Math.min(wait, Math.max(s.notBefore - now, 1));
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake.off('wake', done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.#wake.on('wake', done);
    });
  }

  async #work(state: PartitionState): Promise<void> {
    const { handler, batchSize } = this.#options;
    state.busy = true;
    const batch = state.queue.splice(0, batchSize);
    state.inFlight = batch;
    const epochs = state.leaderEpochs.splice(0, batch.length);
    this.#buffered -= batch.length;
    if (this.#buffered < this.#options.batchSize * Math.max(this.#options.concurrency, 1) * 5) {
      this.#stream?.resume();
    }
    const { handled, retryAfterMs } = await handOver(handler, batch, this.#options.onError, 500);
    const key = keyOf(state);
    // Still assigned and not started over since: a lost (or lost and regained) partition's
    // batch is not committed, its next owner starts from the committed offset.
    const owned = this.#assigned.has(key) && this.#partitions.get(key) === state;
    const last = batch[handled - 1];
    if (owned && last !== undefined) {
      try {
        await this.#consumer.commit({
          offsets: [
            {
              topic: state.topic,
              partition: state.partition,
              offset: BigInt(last.offset) + 1n,
              leaderEpoch: epochs[handled - 1] ?? -1,
            },
          ],
        });
      } catch (error) {
        // Handled but not committed: at-least-once, the next owner redelivers them.
        this.#options.onError?.(error);
      }
    }
    state.busy = false;
    state.inFlight = [];
    if (this.#partitions.get(key) !== state) {
      // Forgotten while handling: nothing more to do for this state.
    } else if (handled < batch.length) {
      state.queue.unshift(...batch.slice(handled));
      state.leaderEpochs.unshift(...epochs.slice(handled));
      this.#buffered += batch.length - handled;
      state.notBefore = Date.now() + retryAfterMs;
    } else {
      state.notBefore = Date.now();
    }
    this.#wake.emit('wake');
  }
}

function keyOf(state: PartitionState): string {
  return `${state.topic}:${state.partition}`;
}

/** The client's connection pool (a symbol-keyed field of @platformatic/kafka's clients). */
function connectionsOf(client: object): { close(): Promise<void> } | undefined {
  const key = Object.getOwnPropertySymbols(client).find(
    (symbol) => symbol.description === 'plt.kafka.base.connections',
  );
  return key === undefined
    ? undefined
    : (client as { [key: symbol]: { close(): Promise<void> } })[key];
}
