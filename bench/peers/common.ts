/**
 * What every queue peer shares: its settings from the environment, the sink table its job
 * handler writes each event to, and the lines the harness reads ({"ready": true}, {"done": …}).
 */
import pg from 'pg';
import { analyticsEvent } from '../lib/events.ts';
import { sinkInsert } from '../lib/postgres.ts';

export interface PeerSettings {
  role: 'worker' | 'produce';
  postgresUrl: string;
  redisUrl: string;
  /** Schema of the sink table (and of the peer's own tables, where it has a schema option). */
  schema: string;
  queue: string;
  events: number;
  /** Events per job in batched mode; 1 = one event per job. */
  perJob: number;
}

export function settings(): PeerSettings {
  const env = process.env;
  const role = process.argv[2];
  if (role !== 'worker' && role !== 'produce') throw new Error('usage: <peer>.ts worker|produce');
  return {
    role,
    postgresUrl: env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test',
    redisUrl: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    schema: required(env.BENCH_SCHEMA, 'BENCH_SCHEMA'),
    queue: required(env.BENCH_QUEUE, 'BENCH_QUEUE'),
    events: Number(env.BENCH_EVENTS ?? '1000'),
    perJob: Number(env.BENCH_PER_JOB ?? '1'),
  };
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
}

/** The events of a run, `perJob` to a job: ids `<queue>-<i>`, so re-deliveries are no-ops. */
export function jobPayloads(s: PeerSettings): Record<string, unknown>[][] {
  const jobs: Record<string, unknown>[][] = [];
  for (let i = 0; i < s.events; i += s.perJob) {
    const count = Math.min(s.perJob, s.events - i);
    jobs.push(Array.from({ length: count }, (_, j) => analyticsEvent(i + j, s.queue)));
  }
  return jobs;
}

/** The handlers' write: one multi-row statement for however many events it is given. */
export function sinkWriter(s: PeerSettings, poolSize: number) {
  const pool = new pg.Pool({ connectionString: s.postgresUrl, max: poolSize });
  const statement = sinkInsert(s.schema);
  return {
    pool,
    async insert(events: readonly unknown[]): Promise<void> {
      await pool.query(statement, [JSON.stringify(events)]);
    },
  };
}

export function say(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Stops on SIGTERM with `close`, then exits. */
export function onStop(close: () => Promise<void>): void {
  process.once('SIGTERM', () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
