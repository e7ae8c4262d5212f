/** The PostgreSQL server the benchmarks use, and per-run schemas on it. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgresql://postgres@127.0.0.1:5432/test';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh name for one run: schemas, queues and streams never collide with another run's. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withClient((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/** Rows in `schema.table` (an estimate is not enough: runs wait for an exact count). */
export async function countRows(client: pg.Client, schema: string, table: string) {
  const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Polls `count` until it reaches `target` (or `timeoutMs` passes); resolves with the time it
 * got there (Date.now(), comparable across processes), or undefined on timeout.
 */
export async function waitForCount(
  count: () => Promise<number>,
  target: number,
  timeoutMs: number,
  everyMs = 50,
): Promise<{ at: number | undefined; last: number }> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = await count();
    if (last >= target) return { at: Date.now(), last };
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return { at: undefined, last };
}

/**
 * The table peers and ceilings write to: the columns and indexes of Herald's
 * processed_events, so every system pays for the same row.
 */
export function sinkDdl(schema: string): string {
  return `
    CREATE SCHEMA IF NOT EXISTS ${schema};
    CREATE TABLE ${schema}.sink (
      event_id text PRIMARY KEY,
      topic text NOT NULL,
      event_type text NOT NULL,
      key text NOT NULL,
      user_id text,
      payload jsonb NOT NULL,
      enrichment jsonb NOT NULL DEFAULT '{}',
      occurred_at timestamptz,
      accepted_at timestamptz NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      correlation_id text,
      source_partition integer NOT NULL,
      source_offset bigint NOT NULL
    );
    CREATE INDEX ON ${schema}.sink (event_type, occurred_at);
    CREATE INDEX ON ${schema}.sink (user_id, occurred_at);`;
}

/** One multi-row INSERT of events (as produced by analyticsEvent) into `schema.sink`. */
export function sinkInsert(schema: string): string {
  return `
    INSERT INTO ${schema}.sink (event_id, topic, event_type, key, user_id, payload, occurred_at,
      accepted_at, source_partition, source_offset)
    SELECT e->>'id', 'analytics', e->>'event_type', e->>'user_id', e->>'user_id', e,
      (e->>'timestamp')::timestamptz, now(), 0, (e->'metadata'->>'n')::bigint
    FROM jsonb_array_elements($1::jsonb) AS e
    ON CONFLICT (event_id) DO NOTHING`;
}
