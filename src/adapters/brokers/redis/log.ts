import type { Redis } from 'ioredis';
import { partitionFor } from '../../../domain/partitioning.ts';
import type { DeliveredMessage } from '../../../ports/broker.ts';
import type {
  BrokerLog,
  LogCursor,
  LogPage,
  LogReader,
  LogSelection,
  LogStatus,
  PruneReport,
} from '../../../ports/broker-log.ts';
import * as scripts from './log-scripts.ts';
import * as redis from './scripts.ts';

/** What the log needs of its broker: running its scripts. */
interface ScriptRunner {
  script(
    lua: string,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown>;
}

/** Offsets trimmed per script call: a large cut goes in many short steps, never blocking Redis. */
const TRIM_STEP = 10_000;

/** A stream's part of a read: the next offset to read and where the range ends (exclusive). */
interface StreamCursor {
  topic: string;
  partition: number;
  next: number;
  end: number;
}

type Entry = [id: string, fields: string[]];

/**
 * The Redis Streams log over time. Without LOG_RETENTION the streams are trimmed as soon as
 * every group has acknowledged (scripts.ts ackAndRelease), so there is no log to replay; with
 * it, acknowledged entries stay and retention trims each stream by time, never past a group's
 * pending entries or past what it has not read yet. A range is read by entry ids, found from
 * times by a binary search over the entries' `accepted_at`.
 */
export class RedisBrokerLog implements BrokerLog {
  readonly #runner: ScriptRunner;
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #retains: boolean;
  readonly #partitions: number;

  constructor(
    runner: ScriptRunner,
    client: Redis,
    options: { prefix: string; retainLog: boolean },
    partitions: number,
  ) {
    this.#runner = runner;
    this.#client = client;
    this.#prefix = options.prefix;
    this.#retains = options.retainLog;
    this.#partitions = partitions;
  }

  async status(cutoff?: Date): Promise<LogStatus> {
    const streams = await this.#streams();
    const rows = await this.#extent(streams);
    let oldest: number | undefined;
    const groups = new Set<string>();
    for (const [first, , ...names] of rows) {
      for (const name of names) groups.add(name);
      if (first >= 0) oldest = Math.min(oldest ?? first, first);
    }
    // Entries acknowledged by every group are trimmed at once without a retention: the log
    // holds nothing to replay before now.
    const since = this.#retains ? await this.#retainedSince(rows) : Date.now();
    const retainedSince = since > 0 ? new Date(since) : null;
    const blocking = new Set<string>();
    if (cutoff !== undefined && this.#retains) {
      for (const stream of streams) {
        const [, ...held] = (await this.#runner.script(
          scripts.trimBefore,
          [stream.key],
          [cutoff.getTime(), 0],
        )) as [number, ...string[]];
        for (const group of held) blocking.add(group);
      }
    }
    return {
      broker: 'redis',
      retainedSince,
      oldestAt: oldest === undefined ? null : new Date(oldest),
      segments: [],
      groups: [...groups].sort().map((group) => ({ group, blocking: blocking.has(group) })),
    };
  }

  async prune(cutoff: Date): Promise<PruneReport> {
    if (!this.#retains) return { cutoff, dropped: [], count: 0, heldBy: [] };
    const streams = await this.#streams();
    // Settled before the first cut, which would otherwise pass for the only one.
    await this.#retainedSince(await this.#extent(streams));
    const heldBy = new Set<string>();
    let total = 0;
    let trimmedStreams = 0;
    for (const stream of streams) {
      let streamTotal = 0;
      for (;;) {
        const [deleted, ...held] = (await this.#runner.script(
          scripts.trimBefore,
          [stream.key],
          [cutoff.getTime(), TRIM_STEP],
        )) as [number, ...string[]];
        for (const group of held) heldBy.add(group);
        streamTotal += deleted;
        if (deleted === 0) break;
      }
      if (streamTotal > 0) trimmedStreams++;
      total += streamTotal;
    }
    if (total > 0) {
      // The log is complete from the cutoff on (entries before it that a group holds stay too).
      const key = redis.retainedSinceKey(this.#prefix);
      const previous = Number((await this.#client.get(key)) ?? 0);
      if (cutoff.getTime() > previous) await this.#client.set(key, String(cutoff.getTime()));
    }
    return {
      cutoff,
      dropped: total > 0 ? [`${total} entries of ${trimmedStreams} stream(s)`] : [],
      count: total,
      heldBy: [...heldBy].sort(),
    };
  }

  async open(selection: LogSelection, cursor: LogCursor | undefined): Promise<LogReader> {
    let streams: StreamCursor[];
    if (cursor !== undefined) {
      streams = (cursor as { streams: StreamCursor[] }).streams.map((s) => ({ ...s }));
    } else {
      const wanted =
        selection.keys === undefined
          ? undefined
          : new Set(selection.keys.map((k) => partitionFor(k, this.#partitions)));
      const shards = selection.topics.flatMap((topic) =>
        Array.from({ length: this.#partitions }, (_, partition) => ({ topic, partition })).filter(
          (s) => wanted === undefined || wanted.has(s.partition),
        ),
      );
      const ranges = (
        shards.length === 0
          ? []
          : await this.#runner.script(
              scripts.rangeOffsets,
              shards.map((s) => redis.streamKey(this.#prefix, s.topic, s.partition)),
              [selection.from.getTime(), selection.to.getTime()],
            )
      ) as [number, number][];
      streams = shards.map((s, i) => ({
        ...s,
        next: ranges[i]?.[0] ?? 0,
        end: ranges[i]?.[1] ?? 0,
      }));
    }
    const client = this.#client;
    const prefix = this.#prefix;
    const types = selection.types === undefined ? undefined : new Set(selection.types);
    const keys = selection.keys === undefined ? undefined : new Set(selection.keys);
    const from = selection.from.getTime();
    const to = selection.to.getTime();
    return {
      async next(limit: number): Promise<LogPage> {
        const messages: DeliveredMessage[] = [];
        for (const stream of streams) {
          while (stream.next < stream.end && messages.length < limit) {
            const key = redis.streamKey(prefix, stream.topic, stream.partition);
            const count = Math.min(limit - messages.length, 500);
            const entries = (await client.xrange(
              key,
              `0-${stream.next}`,
              `0-${stream.end - 1}`,
              'COUNT',
              count,
            )) as Entry[];
            if (entries.length === 0) {
              // Trimmed meanwhile, or never written: nothing more in this range.
              stream.next = stream.end;
              break;
            }
            for (const entry of entries) {
              stream.next = redis.offsetOf(entry[0]) + 1;
              const message = toDelivered(stream, entry);
              const at = message.acceptedAt.getTime();
              if (message.generation !== 0 || at < from || at >= to) continue;
              if (types !== undefined && !types.has(message.type)) continue;
              if (keys !== undefined && !keys.has(message.key)) continue;
              messages.push(message);
            }
          }
          if (messages.length >= limit) break;
        }
        return {
          messages,
          cursor: { streams: streams.map((s) => ({ ...s })) },
          done: streams.every((s) => s.next >= s.end),
        };
      },
      async close() {},
    };
  }

  async forgetGroup(group: string): Promise<boolean> {
    const streams = await this.#streams();
    let forgot = false;
    for (const stream of streams) {
      const destroyed = await this.#client.xgroup('DESTROY', stream.key, group).catch(() => 0);
      if (Number(destroyed) > 0) forgot = true;
    }
    return forgot;
  }

  /**
   * Since when (ms) the log is complete; 0: from the start. Recorded by each prune; the first
   * time a retention is in force on streams that were trimmed as they were acknowledged (no
   * retention before), it is now: what came earlier may be gone.
   */
  async #retainedSince(extent: readonly [number, number, ...string[]][]): Promise<number> {
    const key = redis.retainedSinceKey(this.#prefix);
    const recorded = await this.#client.get(key);
    if (recorded !== null) return Number(recorded);
    const trimmedBefore = extent.some(([, removed]) => removed > 0);
    await this.#client.set(key, trimmedBefore ? String(Date.now()) : '0', 'NX');
    return Number((await this.#client.get(key)) ?? 0);
  }

  async #extent(streams: readonly { key: string }[]): Promise<[number, number, ...string[]][]> {
    if (streams.length === 0) return [];
    return (await this.#runner.script(
      scripts.extent,
      streams.map((s) => s.key),
      [],
    )) as [number, number, ...string[]][];
  }

  async #streams(): Promise<{ topic: string; partition: number; key: string }[]> {
    const topics = (await this.#client.smembers(redis.topicsKey(this.#prefix))).sort();
    return topics.flatMap((topic) =>
      Array.from({ length: this.#partitions }, (_, partition) => ({
        topic,
        partition,
        key: redis.streamKey(this.#prefix, topic, partition),
      })),
    );
  }
}

function toDelivered(stream: StreamCursor, [id, flat]: Entry): DeliveredMessage {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] ?? '', flat[i + 1] ?? '');
  return {
    id: f.get('id') ?? '',
    topic: stream.topic,
    key: f.get('key') ?? '',
    type: f.get('type') ?? '',
    value: JSON.parse(f.get('value') ?? '{}') as Record<string, unknown>,
    headers: JSON.parse(f.get('headers') ?? '{}') as Record<string, string>,
    partition: stream.partition,
    offset: redis.offsetOf(id),
    acceptedAt: new Date(Number(f.get('accepted_at') ?? 0)),
    generation: Number(f.get('generation') ?? 0),
  };
}
