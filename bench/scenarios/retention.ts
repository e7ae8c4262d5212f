/**
 * Retention while ingesting (issue #20): a day of the Postgres event log (5 million rows in one
 * segment, every group committed past it) is dropped by Herald's own retention code while
 * single events are ingested, and the ingest p99 of load runs with the drop is compared with
 * that of load runs without it, in turns.
 */
import pg from 'pg';
import { PostgresBrokerLog } from '../../src/adapters/brokers/postgres/log.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import { SEED_ANALYTICS } from '../lib/events.ts';
import { startTarget } from '../lib/herald.ts';
import { runLoad } from '../lib/load.ts';
import { POSTGRES_URL } from '../lib/postgres.ts';
import { type Context, fmt, type Scenario, type ScenarioResult } from '../lib/report.ts';

export const retention: Scenario = {
  name: 'retention',
  title: 'Retention: a day of the log dropped while ingesting',
  async run(context: Context): Promise<ScenarioResult> {
    const rows = context.quick ? 50_000 : 5_000_000;
    const rounds = context.quick ? 1 : 3;
    const durationS = context.quick ? 1 : 6;
    const connections = 50;
    const target = await startTarget({
      database: 'postgres',
      topology: 'api+worker',
      // Herald's own maintenance stays out of the way: the scenario triggers each drop.
      // A short dedupe window: the filled segment may go as soon as it is closed.
      env: {
        LOG_RETENTION: '1h',
        DEDUPE_WINDOW: '1s',
        RETENTION_INTERVAL: '1d',
        QUEUE_PARTITIONS: '8',
      },
    });
    const schema = target.env.DATABASE_SCHEMA ?? '';
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    const db = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 2 });
    const log = new PostgresBrokerLog(db, 8, 1000);
    const figures: Record<string, unknown> = { rows };
    const rowsOut: (string | number)[][] = [];
    try {
      const without: number[] = [];
      const during: number[] = [];
      const drops: { ms: number; offsets: number }[] = [];
      // Connections opened and code warm before anything counts.
      await ingest(target.url, connections, 1);
      for (let round = 0; round < rounds; round++) {
        const fillMs = await fillADay(client, schema, rows);
        context.log(`round ${round + 1}: ${fmt(rows)} rows of a day past in ${fmt(fillMs)} ms`);
        const quiet = await ingest(target.url, connections, durationS);
        without.push(quiet.latency_ms.p99);
        // The drop starts a third of the way into the load run.
        const load = ingest(target.url, connections, durationS);
        await new Promise((resolve) => setTimeout(resolve, (durationS * 1000) / 3));
        const started = performance.now();
        const report = await log.prune(new Date(Date.now() + 1000));
        const ms = Math.round(performance.now() - started);
        const loud = await load;
        during.push(loud.latency_ms.p99);
        drops.push({ ms, offsets: report.count });
        context.log(
          `  p99 ${quiet.latency_ms.p99} ms without, ${loud.latency_ms.p99} ms with the drop (${report.dropped.join(', ')} in ${ms} ms)`,
        );
        rowsOut.push([
          round + 1,
          fmt(report.count),
          ms,
          quiet.ok_per_s,
          quiet.latency_ms.p99,
          loud.ok_per_s,
          loud.latency_ms.p99,
        ]);
      }
      const median = (xs: number[]) =>
        [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
      const base = median(without);
      const withDrop = median(during);
      const dropMs = median(drops.map((d) => d.ms));
      Object.assign(figures, { without_p99_ms: without, during_p99_ms: during, drops });
      return {
        config: { rows, rounds, duration_s: durationS, connections, env: target.env },
        figures,
        tables: [
          {
            title: 'Dropping a day of the log while ingesting (single events, 50 connections)',
            columns: [
              'round',
              'offsets dropped',
              'drop ms',
              'req/s without',
              'p99 ms without',
              'req/s with drop',
              'p99 ms with drop',
            ],
            rows: rowsOut,
          },
        ],
        goals: [
          {
            goal: `ingest p99 while a day of ${fmt(rows)} log rows is dropped`,
            target: '≤ 1.5× the p99 without',
            measured: `${withDrop} vs ${base} ms (${base > 0 ? (withDrop / base).toFixed(2) : '—'}×)`,
            met: base > 0 && withDrop <= 1.5 * base,
          },
          {
            goal: `drop of a day of ${fmt(rows)} log rows`,
            target: '< 1 s',
            measured: `${dropMs} ms`,
            met: dropMs < 1000,
          },
        ],
        notes: [
          'The segment is filled with generate_series (accepted a day ago, every group committed past it) and dropped by PostgresBrokerLog.prune: DETACH PARTITION CONCURRENTLY, then DROP TABLE.',
          'Load runs take turns: one without a drop, one with a drop a third of the way in; the medians of the rounds count.',
        ],
      };
    } finally {
      await db.close().catch(() => {});
      await client.end().catch(() => {});
      await target.stop();
    }
  },
};

function ingest(url: string, connections: number, durationS: number) {
  return runLoad({
    url: `${url}/api/v1/events/analytics`,
    body: JSON.stringify(SEED_ANALYTICS),
    connections,
    durationS,
  });
}

/**
 * Puts `rows` events accepted a day ago into the current segment, every consumer group
 * committed past them, and rolls: a closed segment that retention may drop. Returns its ms.
 */
async function fillADay(client: pg.Client, schema: string, rows: number): Promise<number> {
  await client.query(`SET search_path = ${schema}`);
  // The consumers caught up first: their offsets then move past the filled rows only.
  for (;;) {
    const behind = await client.query(
      `SELECT 1 FROM consumer_leases c JOIN log_partitions p USING (partition)
       WHERE c.committed_offset < p.next_offset - 1 LIMIT 1`,
    );
    if (behind.rows.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const started = performance.now();
  await client.query('BEGIN');
  // Appends wait meanwhile (the counters are locked): the fill happens between load runs.
  const parts = await client.query<{ partition: number; next: string; segment: number }>(
    'SELECT partition, next_offset AS next, segment FROM log_partitions ORDER BY partition FOR UPDATE',
  );
  const count = parts.rows.length;
  const segment = parts.rows[0]?.segment ?? 1;
  const base = parts.rows.map((p) => Number(p.next));
  await client.query(
    `INSERT INTO raw_events (partition, "offset", event_id, topic, event_type, key, payload,
       accepted_at, segment)
     SELECT g % $2, ($3::bigint[])[g % $2 + 1] + g / $2, 'day-' || $4::int || '-' || g, 'analytics',
       'page_view', 'user_' || g % 1000,
       jsonb_build_object('user_id', 'user_' || g % 1000, 'event_type', 'page_view'),
       now() - interval '1 day' + g * (interval '1 day' / $1::int), $4::int
     FROM generate_series(0, $1::int - 1) g`,
    [rows, count, base, segment],
  );
  await client.query(
    `UPDATE log_partitions SET next_offset = next_offset + ($1::int / $2) + CASE WHEN partition < $1::int % $2 THEN 1 ELSE 0 END`,
    [rows, count],
  );
  await client.query(
    `UPDATE consumer_leases c SET committed_offset = p.next_offset - 1, committed_segment = p.segment
     FROM log_partitions p WHERE p.partition = c.partition`,
  );
  await client.query('COMMIT');
  await client.query('SELECT log_roll(0, true)');
  return Math.round(performance.now() - started);
}
