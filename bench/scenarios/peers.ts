/**
 * Ceilings and peers on the same PostgreSQL (and Redis): the same N analytics events, each
 * ending as one row of a table shaped like processed_events. Herald (API + worker, Postgres
 * queue, published over HTTP); raw COPY and a batched multi-row INSERT (the ceilings); BullMQ,
 * pg-boss and graphile-worker (per job, and batched) whose job handlers insert the rows; and
 * redis-benchmark XADD pipelined (the Redis transport's ceiling: no PostgreSQL at all).
 * Every run gets its own schema / queue name / key prefix, removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import { copyCeiling, insertCeiling, type Measured, withSink } from '../lib/ceilings.ts';
import { sustained } from '../lib/e2e.ts';
import { analyticsEvent } from '../lib/events.ts';
import { startTarget } from '../lib/herald.ts';
import {
  countRows,
  POSTGRES_URL,
  REDIS_URL,
  uniqueName,
  waitForCount,
  withClient,
} from '../lib/postgres.ts';
import { startPeer } from '../lib/processes.ts';
import {
  type Context,
  fmt,
  type Goal,
  ratio,
  type Scenario,
  type ScenarioResult,
} from '../lib/report.ts';
import {
  BULLMQ_SETTINGS,
  GRAPHILE_SETTINGS,
  KAFKA_RAW_SETTINGS,
  PG_BOSS_SETTINGS,
} from '../peers/settings.ts';

/** A queue peer: its worker process first, then its producer; timed until every row is in. */
async function queuePeer(
  system: string,
  script: string,
  events: number,
  options: { perJob?: number; settings: Record<string, unknown>; timeoutMs: number },
): Promise<Measured> {
  return withSink(async (schema) => {
    const queue = uniqueName('bench_q');
    const env = {
      BENCH_DATABASE_URL: POSTGRES_URL,
      BENCH_REDIS_URL: REDIS_URL,
      BENCH_SCHEMA: schema,
      BENCH_QUEUE: queue,
      BENCH_EVENTS: String(events),
      BENCH_PER_JOB: String(options.perJob ?? 1),
    };
    const worker = await startPeer(`${system} worker`, script, ['worker'], env);
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const producer = await startPeer(`${system} producer`, script, ['produce'], env);
      const started = Number(producer.readyLine.started);
      const done = await waitForCount(
        () => countRows(client, schema, 'sink'),
        events,
        options.timeoutMs,
        200,
      );
      const end = done.at ?? Date.now();
      const seconds = (end - started) / 1000;
      return {
        system,
        kind: 'peer',
        events: done.last,
        seconds,
        events_per_s: Math.round(done.last / seconds),
        completed: done.at !== undefined,
        settings: { ...options.settings, events_per_job: options.perJob ?? 1 },
        detail: { enqueue_ms: producer.readyLine.enqueued_ms },
      };
    } finally {
      await client.end();
      await worker.stop();
      if (script === 'bullmq.ts') await deleteRedisKeys(`bench_${queue}:*`);
    }
  });
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * The raw @platformatic/kafka producer, then a hand-rolled consumer group inserting the rows in
 * batches (bench/peers/kafka-raw.ts): two rows, each timed on its own phase.
 */
async function kafkaRaw(events: number, timeoutMs: number): Promise<Measured[]> {
  return withSink(async (schema) => {
    const queue = uniqueName('q');
    const service = await startPeer(
      'kafka raw',
      'kafka-raw.ts',
      ['produce'],
      {
        BENCH_DATABASE_URL: POSTGRES_URL,
        BENCH_SCHEMA: schema,
        BENCH_QUEUE: queue,
        BENCH_EVENTS: String(events),
        BENCH_KAFKA_BROKERS: process.env.BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092',
      },
      { timeoutMs },
    );
    const line = service.readyLine as { produce_ms: number; consume_insert_ms: number };
    await service.stop();
    const rows = await withClient((c) => countRows(c, schema, 'sink'));
    const settings = { ...KAFKA_RAW_SETTINGS };
    return [
      {
        system: 'ceiling: @platformatic/kafka producer, acks=all (Kafka only)',
        kind: 'ceiling',
        events,
        seconds: line.produce_ms / 1000,
        events_per_s: Math.round(events / (line.produce_ms / 1000)),
        completed: true,
        settings,
      },
      {
        system: 'hand-rolled @platformatic/kafka consumer → batched INSERT',
        kind: 'ceiling',
        events: rows,
        seconds: line.consume_insert_ms / 1000,
        events_per_s: Math.round(rows / (line.consume_insert_ms / 1000)),
        completed: rows === events,
        settings,
      },
    ];
  });
}

/** redis-benchmark XADD, pipelined: what Redis itself takes (no PostgreSQL, no consumer). */
function xaddCeiling(events: number): Measured | undefined {
  const key = uniqueName('bench_xadd');
  const payload = JSON.stringify(analyticsEvent(0, key));
  const url = new URL(REDIS_URL);
  try {
    const output = execFileSync(
      'redis-benchmark',
      [
        '-h',
        url.hostname,
        '-p',
        url.port || '6379',
        '-n',
        String(events),
        '-P',
        '100',
        '-q',
        'XADD',
        key,
        '*',
        'payload',
        payload,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const perS = Number(/([\d.]+) requests per second/.exec(output)?.[1]);
    return {
      system: 'ceiling: redis-benchmark XADD, pipeline 100 (Redis only)',
      kind: 'ceiling',
      events,
      seconds: events / perS,
      events_per_s: Math.round(perS),
      completed: Number.isFinite(perS),
      settings: { pipeline: 100, clients: 50 },
    };
  } catch {
    return undefined;
  } finally {
    try {
      execFileSync('redis-cli', ['-h', url.hostname, '-p', url.port || '6379', 'DEL', key]);
    } catch {}
  }
}

export const peers: Scenario = {
  name: 'peers',
  title: 'Herald against its ceilings and peers (same rows, same PostgreSQL)',
  async run(context: Context): Promise<ScenarioResult> {
    const events = context.quick ? 1000 : 50_000;
    const timeoutMs = context.quick ? 60_000 : 300_000;
    const measured: Measured[] = [];
    const notes: string[] = [];
    const step = async (name: string, work: () => Promise<Measured | Measured[] | undefined>) => {
      context.log(`${name}…`);
      let result: Measured | Measured[] | undefined;
      try {
        result = await work();
      } catch (error) {
        // A system that cannot run here (no Kafka, no redis-benchmark) is reported, not fatal.
        const message = String((error as Error).message ?? error);
        const reason = message.split('\n')[0];
        context.log(`  → skipped: ${message.split('\n').slice(0, 12).join('\n    ')}`);
        notes.push(`${name} not measured: ${reason}`);
        return;
      }
      if (result === undefined) return;
      for (const m of Array.isArray(result) ? result : [result]) {
        context.log(
          `  → ${m.system}: ${fmt(m.events_per_s)} events/s${m.completed ? '' : ' (incomplete)'}`,
        );
        measured.push(m);
      }
    };

    // Herald runs first and last: the machine's load moves while the peers run, so its ratios
    // use the mean of the two.
    const heraldRun = (when: string) =>
      step(`herald (${when})`, async () => {
        const target = await startTarget({
          database: 'postgres',
          topology: 'api+worker',
          cpuProfDir: context.cpuProfDir,
        });
        try {
          const s = await sustained(target, events, { timeoutMs });
          return {
            system: `Herald (api + worker, Postgres queue, over HTTP), ${when}`,
            kind: 'herald',
            events: s.processed,
            seconds: s.seconds,
            events_per_s: s.events_per_s,
            completed: s.completed,
            settings: { ...target.env, published: 'HTTP batches of 1,000 over 4 connections' },
          } satisfies Measured;
        } finally {
          await target.stop();
        }
      });
    await heraldRun('first');
    await step('COPY', () => copyCeiling(events));
    await step('INSERT', () => insertCeiling(events, 1000, 2));
    await step('redis XADD', async () => xaddCeiling(events * 4));
    await step('kafka raw', () => kafkaRaw(events, timeoutMs));
    await step('BullMQ', () =>
      queuePeer('BullMQ 6.7.0', 'bullmq.ts', events, { settings: BULLMQ_SETTINGS, timeoutMs }),
    );
    await step('pg-boss', () =>
      queuePeer('pg-boss 12.38.0', 'pg-boss.ts', events, { settings: PG_BOSS_SETTINGS, timeoutMs }),
    );
    await step('graphile-worker', () =>
      queuePeer('graphile-worker 0.18.0', 'graphile-worker.ts', events, {
        settings: GRAPHILE_SETTINGS,
        timeoutMs,
      }),
    );
    await step('graphile-worker batched', () =>
      queuePeer('graphile-worker 0.18.0, batched (100 events/job)', 'graphile-worker.ts', events, {
        perJob: 100,
        settings: GRAPHILE_SETTINGS,
        timeoutMs,
      }),
    );

    // A quick run only checks the code paths: once is enough.
    if (!context.quick) await heraldRun('last');

    const heralds = measured.filter((m) => m.kind === 'herald');
    const herald =
      heralds.length === 0
        ? undefined
        : heralds.reduce((sum, m) => sum + m.events_per_s, 0) / heralds.length;
    const rows = measured.map((m) => [
      m.system,
      fmt(m.events),
      fmt(m.seconds),
      fmt(m.events_per_s) + (m.completed ? '' : ' (incomplete)'),
      ratio(herald, m.events_per_s),
    ]);
    const by = (prefix: string) => measured.find((m) => m.system.startsWith(prefix))?.events_per_s;
    const goal = (name: string, target: number, value: number | undefined): Goal => ({
      goal: `Herald (Postgres queue) ${name}`,
      target: `≥ ${target}×`,
      measured: ratio(herald, value),
      met: herald === undefined || value === undefined ? undefined : herald / value >= target,
    });
    const goals = [
      goal('vs direct batched INSERT', 0.5, by('ceiling: batched INSERT')),
      goal('vs BullMQ', 10, by('BullMQ')),
      goal('vs graphile-worker batched', 5, by('graphile-worker 0.18.0, batched')),
      goal('vs pg-boss', 30, by('pg-boss')),
    ];
    return {
      config: {
        events,
        row: 'one row per event in a table with processed_events’ columns and indexes',
        peers: {
          bullmq: BULLMQ_SETTINGS,
          'pg-boss': PG_BOSS_SETTINGS,
          'graphile-worker': GRAPHILE_SETTINGS,
          'kafka raw': KAFKA_RAW_SETTINGS,
        },
        timeout_ms: timeoutMs,
      },
      figures: { systems: measured },
      tables: [
        {
          title: `The same ${fmt(events)} events, each one row in PostgreSQL`,
          columns: ['system', 'rows', 'seconds', 'events/s', 'Herald (mean of both runs) ÷ this'],
          rows,
        },
      ],
      goals,
      notes: [
        ...notes,
        'Queue peers: timed from the producer’s first enqueue to the last row in; the worker process was already running. Herald: from the first HTTP request to the last event persisted; run first and last, its ratios use the mean of the two runs.',
        'Each peer is configured for throughput as its docs advise (settings in bench/peers/settings.ts and this file’s config): BullMQ addBulk + worker concurrency 100; pg-boss insert() + batchSize 100, burstWhenBatchFull, 4 local workers; graphile-worker addJobs + the performance page’s preset (24 jobs, local queue 500, batched completion).',
        'The XADD ceiling writes nothing to PostgreSQL: it bounds what a Redis transport could take, not the same work.',
      ],
    };
  },
};
