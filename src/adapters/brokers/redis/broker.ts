import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { partitionFor } from '../../../domain/partitioning.ts';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import type {
  Broker,
  Consumer,
  ConsumerOptions,
  DeliveredMessage,
  OutgoingMessage,
  PartitionLag,
  PublishResult,
  ShardPosition,
} from '../../../ports/broker.ts';
import { handOver } from '../batch-handler.ts';
import { acceptedAtOf, decodeObject } from '../decode.ts';
import { PollingConsumer } from '../polling-slots.ts';
import { RedisBrokerLog } from './log.ts';
import * as redis from './scripts.ts';

export interface RedisBrokerOptions {
  /** e.g. `redis://127.0.0.1:6379`. */
  url: string;
  /** Namespace of every key; lets several Herald installations share one Redis. */
  prefix?: string;
  /** Partitions per topic when the namespace is new; an existing namespace keeps its count. */
  partitions: number;
  /** How long a shard stays with a consumer that stopped renewing its lease (crashed). */
  leaseMs: number;
  /** How often an idle consumer looks for work. */
  pollMs: number;
  /** How long `open` waits for Redis before failing. */
  connectTimeoutMs?: number;
  /**
   * Keep acknowledged entries for a retention (LOG_RETENTION: trimmed by time, log.ts) rather
   * than trimming them as soon as every group has acknowledged them (the default).
   */
  retainLog?: boolean;
}

/** A stream entry as Redis returns it: id and flat field/value list. */
type Entry = [id: string, fields: string[]];

/**
 * The Redis Streams transport. Each (topic, partition) is its own stream (a shard), so a key's
 * messages stay in one ordered stream. Order within a group is kept by giving each shard to one
 * consumer at a time through a lease key (`SET NX PX`, renewed while the batch is worked on,
 * like the Postgres transport's leases); the holder reads the shard's pending entries first,
 * then new ones, and acknowledges only the handled prefix. A consumer that dies stops
 * renewing, its lease expires, and the next holder re-reads the entries it left pending.
 *
 * @example
 * const broker = await RedisBroker.open({ url: 'redis://127.0.0.1:6379', partitions: 16,
 *   leaseMs: 10_000, pollMs: 50 });
 */
export class RedisBroker implements Broker {
  readonly name = 'redis';
  readonly partitionCount: number;
  /** The log over time: retention by time, range reads (log.ts). */
  readonly log: RedisBrokerLog;
  readonly #client: Redis;
  readonly #options: Required<RedisBrokerOptions>;
  readonly #knownTopics = new Set<string>();
  readonly #published = new EventEmitter().setMaxListeners(0);

  private constructor(client: Redis, options: Required<RedisBrokerOptions>, partitions: number) {
    this.#client = client;
    this.#options = options;
    this.partitionCount = partitions;
    this.log = new RedisBrokerLog(this, client, options, partitions);
  }

  static async open(options: RedisBrokerOptions): Promise<RedisBroker> {
    const full = { prefix: 'herald', connectTimeoutMs: 5000, retainLog: false, ...options };
    const client = new Redis(full.url, {
      lazyConnect: true,
      connectTimeout: full.connectTimeoutMs,
      // Commands wait for a reconnect rather than fail at once, but not forever.
      maxRetriesPerRequest: 3,
    });
    // Connection errors surface through the commands that fail; keep them off 'error'.
    client.on('error', () => {});
    try {
      await withTimeout(client.connect(), full.connectTimeoutMs);
      const key = redis.partitionsKey(full.prefix);
      await client.set(key, String(full.partitions), 'NX');
      const stored = Number(await client.get(key));
      return new RedisBroker(client, full, stored > 0 ? stored : full.partitions);
    } catch (error) {
      client.disconnect();
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `Redis at ${redactUrl(full.url)} cannot be reached: ${String(error)}`,
        { cause: error, retryable: true },
      );
    }
  }

  /** The underlying connection, for tests that need to cut it as a crash would. */
  get client(): Redis {
    return this.#client;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult[]> {
    if (messages.length === 0) return [];
    const { prefix } = this.#options;
    const pipeline = this.#client.pipeline();
    const fresh = [...new Set(messages.map((m) => m.topic))].filter(
      (t) => !this.#knownTopics.has(t),
    );
    if (fresh.length > 0) pipeline.sadd(redis.topicsKey(prefix), ...fresh);
    const acceptedAt = String(Date.now());
    for (const m of messages) {
      const partition = partitionFor(m.key, this.partitionCount);
      // One pipeline on one connection: entries of a shard are appended in call order.
      pipeline.xadd(
        redis.streamKey(prefix, m.topic, partition),
        '0-*',
        'id',
        m.id,
        'type',
        m.type,
        'key',
        m.key,
        'generation',
        String(m.generation ?? 0),
        'accepted_at',
        acceptedAt,
        'value',
        JSON.stringify(m.value),
        'headers',
        JSON.stringify(m.headers),
      );
    }
    // A failure is ambiguous (some entries may be written): the client retries with the same
    // ids, and consumers are idempotent on them.
    const unavailable = (error: unknown) =>
      new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `Redis did not take the events: ${error}`, {
        cause: error,
        retryable: true,
      });
    const results = await pipeline.exec().catch((error: unknown) => {
      throw unavailable(error);
    });
    const failed = (results ?? []).find(([error]) => error !== null);
    if (failed) throw unavailable(failed[0]);
    for (const topic of fresh) this.#knownTopics.add(topic);
    this.#published.emit('published');
    // The XADD replies follow the SADD, if there was one: each is the entry's id `0-<offset>`.
    const added = (results ?? []).slice(fresh.length > 0 ? 1 : 0);
    return messages.map((m, i) => {
      const id = added[i]?.[1];
      return {
        id: m.id,
        status: 'appended',
        partition: partitionFor(m.key, this.partitionCount),
        ...(typeof id === 'string' ? { offset: redis.offsetOf(id) } : {}),
      };
    });
  }

  async consume(options: ConsumerOptions): Promise<Consumer> {
    const { prefix } = this.#options;
    const pipeline = this.#client.pipeline();
    pipeline.sadd(redis.topicsKey(prefix), ...options.topics);
    for (const topic of options.topics) {
      for (let p = 0; p < this.partitionCount; p++) {
        // A new group reads a shard from its start, as a new Postgres group reads the log.
        pipeline.xgroup(
          'CREATE',
          redis.streamKey(prefix, topic, p),
          options.group,
          '0',
          'MKSTREAM',
        );
      }
    }
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) {
      if (error && !String(error.message).includes('BUSYGROUP')) throw error;
    }
    return new RedisConsumer(this, this.#options, options, this.#published);
  }

  async lag(group: string): Promise<PartitionLag[]> {
    const { prefix } = this.#options;
    const topics = await this.#client.smembers(redis.topicsKey(prefix));
    const lags = Array.from({ length: this.partitionCount }, (_, partition) => ({
      partition,
      lag: 0,
    }));
    if (topics.length === 0) return lags;
    const keys = topics.flatMap((topic) =>
      lags.map(({ partition }) => redis.streamKey(prefix, topic, partition)),
    );
    const perStream = (await this.script(redis.groupLag, keys, [group])) as number[];
    perStream.forEach((lag, i) => {
      const slot = lags[i % this.partitionCount];
      if (slot && lag > 0) slot.lag += lag;
    });
    return lags;
  }

  async positions(group: string): Promise<ShardPosition[]> {
    const { prefix } = this.#options;
    const topics = (await this.#client.smembers(redis.topicsKey(prefix))).sort();
    const shards = topics.flatMap((topic) =>
      Array.from({ length: this.partitionCount }, (_, partition) => ({ topic, partition })),
    );
    if (shards.length === 0) return [];
    const keys = shards.map((s) => redis.streamKey(prefix, s.topic, s.partition));
    const rows = (await this.script(redis.groupPositions, keys, [group])) as (
      | []
      | [number, number, string, string, string]
    )[];
    const positions: ShardPosition[] = [];
    rows.forEach((row, i) => {
      const shard = shards[i];
      if (shard === undefined || row.length === 0) return;
      const [committed, lag, entryId, eventId, generation] = row;
      const position: ShardPosition = { ...shard, committed, lag };
      if (entryId !== '') {
        position.head = {
          id: eventId,
          offset: redis.offsetOf(entryId),
          generation: Number(generation) || 0,
        };
      }
      positions.push(position);
    });
    return positions;
  }

  async ping(): Promise<void> {
    await this.#client.ping();
  }

  async close(): Promise<void> {
    this.#published.removeAllListeners();
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  /** Runs a Lua script by its SHA, loading it on first use (or after a Redis restart). */
  async script(lua: string, keys: readonly string[], args: readonly (string | number)[]) {
    const sha = scriptSha(lua);
    try {
      return await this.#client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String(error).includes('NOSCRIPT')) throw error;
      return this.#client.eval(lua, keys.length, ...keys, ...args);
    }
  }
}

const shas = new Map<string, string>();
function scriptSha(lua: string): string {
  let sha = shas.get(lua);
  if (sha === undefined) {
    sha = createHash('sha1').update(lua).digest('hex');
    shas.set(lua, sha);
  }
  return sha;
}

interface Shard {
  topic: string;
  partition: number;
  stream: string;
  lease: string;
}

class RedisConsumer extends PollingConsumer {
  readonly #broker: RedisBroker;
  readonly #config: Required<RedisBrokerOptions>;
  readonly #options: ConsumerOptions;
  readonly #shards: Shard[];
  readonly #keys: string[];
  readonly #owned = new Set<Shard>();
  // Where the next claim starts looking, so every shard gets its turn.
  #cursor = Math.floor(Math.random() * 1_000_000);

  constructor(
    broker: RedisBroker,
    config: Required<RedisBrokerOptions>,
    options: ConsumerOptions,
    published: EventEmitter,
  ) {
    super();
    this.#broker = broker;
    this.#config = config;
    this.#options = options;
    this.#shards = options.topics.flatMap((topic) =>
      Array.from({ length: broker.partitionCount }, (_, partition) => ({
        topic,
        partition,
        stream: redis.streamKey(config.prefix, topic, partition),
        lease: redis.leaseKey(config.prefix, options.group, topic, partition),
      })),
    );
    this.#keys = this.#shards.flatMap((s) => [s.stream, s.lease]);
    this.startPolling(options, config, published);
  }

  protected renewLeases(): void {
    const { consumerId, onError } = this.#options;
    for (const shard of this.#owned) {
      this.#broker
        .script(redis.renewLease, [shard.lease], [consumerId, this.#config.leaseMs])
        .catch((error: unknown) => onError?.(error));
    }
  }

  /** Claims one shard with work, hands a batch of it to the handler, acks. False when idle. */
  protected async work(): Promise<boolean> {
    const { group, consumerId, batchSize, handler } = this.#options;
    const start = this.#cursor++ % this.#shards.length;
    const claimed = (await this.#broker.script(redis.claimBatch, this.#keys, [
      group,
      consumerId,
      this.#config.leaseMs,
      start,
      batchSize,
      redis.READER,
    ])) as [number, Entry[]] | null;
    if (claimed === null) return false;
    const [index, entries] = claimed;
    const shard = this.#shards[index];
    if (shard === undefined) throw new Error(`Redis returned an unknown shard ${index}`);
    this.#owned.add(shard);
    const batch = entries.map((entry) => toDelivered(shard, entry));
    const { handled, retryAfterMs } = await handOver(
      handler,
      batch,
      this.#options.onError,
      this.#config.pollMs * 10,
    );
    this.#owned.delete(shard);
    const ids = entries.slice(0, handled).map(([id]) => id);
    await this.#broker
      .script(
        redis.ackAndRelease,
        [shard.stream, shard.lease],
        [group, consumerId, retryAfterMs, this.#config.retainLog ? 'keep' : 'trim', ...ids],
      )
      .catch((error: unknown) => this.#options.onError?.(error));
    return true;
  }
}

function toDelivered(shard: Shard, [id, flat]: Entry): DeliveredMessage {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] ?? '', flat[i + 1] ?? '');
  const generation = Number(f.get('generation') ?? 0);
  const message: DeliveredMessage = {
    id: f.get('id') ?? '',
    topic: shard.topic,
    key: f.get('key') ?? '',
    type: f.get('type') ?? '',
    value: {},
    headers: {},
    partition: shard.partition,
    offset: redis.offsetOf(id),
    acceptedAt: acceptedAtOf(Number(f.get('accepted_at'))),
    generation: Number.isSafeInteger(generation) ? generation : 0,
  };
  // An entry another producer wrote may not be Herald's (see decode.ts).
  const value = decodeObject(f.get('value'));
  const headers = decodeObject(f.get('headers') ?? '{}');
  if (typeof value === 'string')
    message.malformed = { reason: `value ${value}`, raw: f.get('value') ?? '' };
  else message.value = value;
  if (typeof headers === 'string') {
    message.malformed ??= { reason: `headers ${headers}`, raw: f.get('headers') ?? '' };
  } else {
    message.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
  }
  return message;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
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
