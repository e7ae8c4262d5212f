/**
 * The ceilings Herald is measured against, on the same PostgreSQL and the same rows: COPY FROM
 * STDIN and a direct batched INSERT … unnest, each into a fresh table shaped like
 * processed_events (columns and indexes), dropped afterwards.
 */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { analyticsEvent } from './events.ts';
import {
  countRows,
  dropSchema,
  POSTGRES_URL,
  sinkDdl,
  uniqueName,
  withClient,
} from './postgres.ts';

/** One system's run of the same N events. */
export interface Measured {
  system: string;
  kind: 'herald' | 'ceiling' | 'peer';
  events: number;
  seconds: number;
  events_per_s: number;
  completed: boolean;
  settings: Record<string, unknown>;
  detail?: Record<string, unknown>;
}

export const COLUMNS =
  'event_id, topic, event_type, key, user_id, payload, occurred_at, accepted_at, source_partition, source_offset';

/** Postgres text-format COPY line of one event (tabs, newlines and backslashes escaped). */
function copyLine(event: Record<string, unknown>, i: number, now: string): string {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
  const user = String(event.user_id);
  return [
    String(event.id),
    'analytics',
    String(event.event_type),
    user,
    user,
    esc(JSON.stringify(event)),
    String(event.timestamp),
    now,
    '0',
    String(i),
  ].join('\t');
}

export async function withSink<T>(work: (schema: string) => Promise<T>): Promise<T> {
  const schema = uniqueName('bench_sink');
  await withClient((c) => c.query(sinkDdl(schema)));
  try {
    return await work(schema);
  } finally {
    await dropSchema(schema);
    await dropSchema(`${schema}_pgboss`).catch(() => {});
    await dropSchema(`${schema}_graphile`).catch(() => {});
  }
}

export async function copyCeiling(events: number): Promise<Measured> {
  return withSink(async (schema) => {
    const now = new Date().toISOString();
    const prefix = uniqueName('copy');
    const lines = Array.from({ length: events }, (_, i) =>
      copyLine(analyticsEvent(i, prefix), i, now),
    );
    const text = `${lines.join('\n')}\n`;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const stream = client.query(copyFrom(`COPY ${schema}.sink (${COLUMNS}) FROM STDIN`));
        stream.on('error', reject);
        stream.on('finish', () => resolve());
        stream.end(text);
      });
      const seconds = (performance.now() - started) / 1000;
      const n = await countRows(client, schema, 'sink');
      return {
        system: 'ceiling: COPY FROM STDIN (1 connection)',
        kind: 'ceiling',
        events: n,
        seconds,
        events_per_s: Math.round(n / seconds),
        completed: n === events,
        settings: { format: 'text', connections: 1, one_statement: true },
      };
    } finally {
      await client.end();
    }
  });
}

export async function insertCeiling(events: number, batch: number, connections: number) {
  return withSink(async (schema): Promise<Measured> => {
    const prefix = uniqueName('insert');
    const statement = `
      INSERT INTO ${schema}.sink (${COLUMNS})
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
        $6::jsonb[], $7::timestamptz[], $8::timestamptz[], $9::int[], $10::bigint[])
      ON CONFLICT (event_id) DO NOTHING`;
    const batches: unknown[][] = [];
    for (let at = 0; at < events; at += batch) {
      const rows = Array.from({ length: Math.min(batch, events - at) }, (_, j) =>
        analyticsEvent(at + j, prefix),
      );
      const col = (f: (e: Record<string, unknown>, j: number) => unknown) => rows.map(f);
      const now = new Date().toISOString();
      batches.push([
        col((e) => e.id),
        col(() => 'analytics'),
        col((e) => e.event_type),
        col((e) => e.user_id),
        col((e) => e.user_id),
        col((e) => JSON.stringify(e)),
        col((e) => e.timestamp),
        col(() => now),
        col(() => 0),
        col((_e, j) => at + j),
      ]);
    }
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: connections });
    try {
      await Promise.all(Array.from({ length: connections }, () => pool.query('SELECT 1')));
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (next < batches.length) {
            const params = batches[next++];
            await pool.query(statement, params);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const n = await withClient((c) => countRows(c, schema, 'sink'));
      return {
        system: `ceiling: batched INSERT … unnest (${batch}/statement, ${connections} connections)`,
        kind: 'ceiling',
        events: n,
        seconds,
        events_per_s: Math.round(n / seconds),
        completed: n === events,
        settings: {
          rows_per_statement: batch,
          connections,
          statement: 'INSERT … SELECT FROM unnest(typed arrays)',
        },
      };
    } finally {
      await pool.end();
    }
  });
}
