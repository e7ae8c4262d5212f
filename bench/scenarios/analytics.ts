/**
 * Analytics on 10 million events: loads synthetic events into a server PostgreSQL schema of its
 * own through the worker's own persist statement (`withRollups`, analytics-sql.ts) in large
 * batches generated in the database (generate_series), so processed_events and every rollup
 * hold exactly what the worker would have written; then measures each analytics query's
 * p50/p95 over many calls with varied parameters, through the use cases the API calls
 * (AnalyticsService over a pg pool), and what the rollups cost a worker batch of 500 events.
 * Goal: p95 < 20 ms per query.
 *
 * Loading 10 million events takes a while: BENCH_ANALYTICS_KEEP=1 keeps the schema (its name
 * is logged) and BENCH_ANALYTICS_SCHEMA=<name> measures an already loaded one again (after
 * applying any migration it has not seen). BENCH_ANALYTICS_QUERIES=<text> measures only the
 * queries whose name contains it (e.g. `funnel`), and skips the write measurement.
 */
import { availableParallelism, loadavg } from 'node:os';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import { PostgresAnalyticsReader } from '../../src/adapters/store/postgres/analytics-reader.ts';
import { withRollups } from '../../src/adapters/store/postgres/analytics-sql.ts';
import {
  PostgresFunnelSealer,
  WORKER_SEALING,
} from '../../src/adapters/store/postgres/funnel-sealer.ts';
import * as storeSql from '../../src/adapters/store/postgres/sql.ts';
import { AnalyticsService } from '../../src/app/analytics.ts';
import type { Database } from '../../src/ports/database.ts';
import { dropSchema, POSTGRES_URL, uniqueName } from '../lib/postgres.ts';
import { type Context, fmt, type Scenario, type ScenarioResult } from '../lib/report.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The data set spans these 30 days (UTC); the service's "now" is its end. */
const START = Date.parse('2026-10-01T00:00:00Z');
const SPAN_DAYS = 30;
const END = START + SPAN_DAYS * DAY_MS;
const USERS = 100_000;
const RESEARCHERS = 500;
const MOLECULES = 200_000;
const PAGES = 300;

// [formula, average molar mass]: what the pipeline's enrichment would have computed.
const FORMULAS: [string, number][] = [
  ['H2O', 18.015],
  ['CH4', 16.043],
  ['CO2', 44.009],
  ['C2H6O', 46.069],
  ['C6H12O6', 180.156],
  ['NaCl', 58.44],
  ['C8H10N4O2', 194.194],
  ['C9H8O4', 180.159],
  ['NH3', 17.031],
  ['H2SO4', 98.072],
  ['C2H4O2', 60.052],
  ['C3H8O', 60.096],
  ['C7H8', 92.141],
  ['C6H6', 78.114],
  ['CaCO3', 100.086],
  ['KMnO4', 158.032],
];

/** u(k): the k-th independent uniform [0, 1) of event g.i, deterministic. */
const u = (k: number) =>
  `((hashint8extended(g.i, ${k}) & 4503599627370495)::float8 / 4503599627370496)`;

/**
 * Events $1..$2 of a data set of $3, as the worker's insert would persist them: 95 % user
 * events (page views, clicks, searches, carts, signups, purchases; a power-law of 100,000
 * users; 300 pages; five sources; a fifth in the EventFlow shape), 5 % chemical submissions
 * (500 researchers, 200,000 molecules, 16 formulas, one weight in ten off).
 */
const generateEvents = `
  INSERT INTO processed_events (event_id, topic, event_type, key, user_id, payload, enrichment,
    occurred_at, accepted_at, processed_at, correlation_id, source_partition, source_offset)
  SELECT 'bench-' || g.i, e.topic, e.event_type, e.key, e.user_id, e.payload, e.enrichment,
    t.at, t.at, t.at + interval '40 milliseconds', NULL, (g.i % 8)::int, g.i
  FROM generate_series($1::bigint, $2::bigint) AS g(i)
  CROSS JOIN LATERAL (
    SELECT timestamptz '${new Date(START).toISOString()}'
      + make_interval(secs => (g.i::float8 / $3::float8) * ${SPAN_DAYS * 86_400} + ${u(1)} * 60) AS at
  ) t
  CROSS JOIN LATERAL (
    SELECT ${u(2)} AS kind, ${u(3)} AS who, ${u(4)} AS what, ${u(5)} AS shape,
      'user_' || floor(${USERS} * power(${u(3)}, 1.5))::int AS user_name,
      '/page/' || floor(${PAGES} * power(${u(6)}, 2))::int AS page,
      CASE WHEN ${u(7)} < 0.55 THEN 'web' WHEN ${u(7)} < 0.75 THEN 'ios'
        WHEN ${u(7)} < 0.9 THEN 'android' WHEN ${u(7)} < 0.95 THEN 'email' ELSE 'ads' END AS source,
      round((5 + 195 * ${u(8)})::numeric, 2) AS amount,
      (ARRAY[${FORMULAS.map(([f]) => `'${f}'`).join(',')}])[1 + floor(${FORMULAS.length} * ${u(10)})::int]
        AS formula,
      (ARRAY[${FORMULAS.map(([, m]) => m).join(',')}])[1 + floor(${FORMULAS.length} * ${u(10)})::int]
        AS mass,
      ${u(11)} < 0.1 AS off
  ) r
  CROSS JOIN LATERAL (
    SELECT CASE WHEN r.what < 0.45 THEN 'page_view' WHEN r.what < 0.70 THEN 'click'
      WHEN r.what < 0.80 THEN 'search' WHEN r.what < 0.88 THEN 'add_to_cart'
      WHEN r.what < 0.93 THEN 'signup' WHEN r.what < 0.96 THEN 'purchase'
      WHEN r.what < 0.98 THEN 'login' ELSE 'logout' END AS type
  ) y
  CROSS JOIN LATERAL (
    SELECT
      CASE WHEN r.kind < 0.05 THEN 'chemical' WHEN r.shape < 0.2 THEN 'events' ELSE 'analytics' END
        AS topic,
      CASE WHEN r.kind < 0.05 THEN 'molecule_submitted' ELSE y.type END AS event_type,
      CASE WHEN r.kind < 0.05 THEN 'mol_' || floor(${MOLECULES} * ${u(9)})::int ELSE r.user_name END
        AS key,
      CASE WHEN r.kind < 0.05 THEN NULL ELSE r.user_name END AS user_id,
      CASE
        WHEN r.kind < 0.05 THEN jsonb_build_object(
          'molecule_id', 'mol_' || floor(${MOLECULES} * ${u(9)})::int,
          'researcher', 'Dr. Researcher ' || floor(${RESEARCHERS} * power(r.who, 1.5))::int,
          'data', jsonb_build_object('formula', r.formula,
            'weight', CASE WHEN r.off THEN r.mass + 1 ELSE r.mass END))
        ELSE jsonb_build_object('user_id', r.user_name, 'event_type', y.type,
          CASE WHEN r.shape < 0.2 THEN 'properties' ELSE 'metadata' END,
          jsonb_build_object('page', r.page, 'source', r.source)
            || CASE WHEN y.type = 'purchase' THEN jsonb_build_object('amount', r.amount)
               ELSE '{}'::jsonb END)
      END AS payload,
      CASE WHEN r.kind < 0.05 THEN jsonb_build_object('chemistry', jsonb_build_object(
          'hill_formula', r.formula,
          'reported_weight', CASE WHEN r.off THEN r.mass + 1 ELSE r.mass END,
          'weight_matches', NOT r.off))
        ELSE '{}'::jsonb END AS enrichment
  ) e
  ON CONFLICT (event_id) DO NOTHING`;

interface Latency {
  calls: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function percentiles(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    calls: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1] ?? 0),
  };
}

/** A deterministic pseudo-random sequence (mulberry32), so runs ask the same questions. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

interface Query {
  name: string;
  what: string;
  /** Fewer calls than the others (a slow query); default: all. */
  calls?: number;
  run(rand: () => number): Promise<unknown>;
}

function queries(analytics: AnalyticsService): Query[] {
  // A time in the data set, whole hours, leaving `spanMs` before the end.
  const hourIn = (rand: () => number, spanMs: number) =>
    START + Math.floor((rand() * (END - START - spanMs)) / HOUR_MS) * HOUR_MS;
  const userOf = (rand: () => number) => `user_${Math.floor(USERS * rand() ** 1.5)}`;
  return [
    {
      name: 'user summary',
      what: 'GET /analytics/user/{id}: rollup row, sessions, 10 recent events (users drawn as the data)',
      run: (rand) => analytics.user(userOf(rand)).catch(() => undefined),
    },
    {
      name: 'researcher summary',
      what: 'GET /analytics/researcher/{name}: rollup, molecules, days, agent answers',
      run: (rand) =>
        analytics
          .researcher(`Dr. Researcher ${Math.floor(RESEARCHERS * rand() ** 1.5)}`)
          .catch(() => undefined),
    },
    {
      name: 'series · minute × 1 h, one type',
      what: 'GET /analytics/events?interval=minute&type=click, a random hour',
      run: (rand) => {
        const from = hourIn(rand, HOUR_MS);
        return analytics.series({
          interval: 'minute',
          type: 'click',
          from: iso(from),
          to: iso(from + HOUR_MS),
        });
      },
    },
    {
      name: 'series · hour × 24 h, all types',
      what: 'GET /analytics/events?interval=hour, a random day',
      run: (rand) => {
        const from = hourIn(rand, DAY_MS);
        return analytics.series({ interval: 'hour', from: iso(from), to: iso(from + DAY_MS) });
      },
    },
    {
      name: 'series · day × 30 d, one type',
      what: 'GET /analytics/events?interval=day&type=purchase, the whole data set',
      run: () =>
        analytics.series({ interval: 'day', type: 'purchase', from: iso(START), to: iso(END) }),
    },
    {
      name: 'top types · 7 d',
      what: 'GET /analytics/top?by=type, a random 7-day range (not day-aligned)',
      run: (rand) => {
        const from = hourIn(rand, 7 * DAY_MS);
        return analytics.top({
          by: 'type',
          limit: 10,
          from: iso(from),
          to: iso(from + 7 * DAY_MS),
        });
      },
    },
    {
      name: 'top pages · 7 d',
      what: 'GET /analytics/top?by=page, a random 7-day range',
      run: (rand) => {
        const from = hourIn(rand, 7 * DAY_MS);
        return analytics.top({
          by: 'page',
          limit: 10,
          from: iso(from),
          to: iso(from + 7 * DAY_MS),
        });
      },
    },
    {
      name: 'top sources · 30 d',
      what: 'GET /analytics/top?by=source, the whole data set',
      run: () => analytics.top({ by: 'source', limit: 10, from: iso(START), to: iso(END) }),
    },
    {
      name: 'funnel · 3 steps, 1 h',
      what: 'GET /analytics/funnel?steps=signup,add_to_cart,purchase&window=3600, a random hour',
      run: (rand) => {
        const from = hourIn(rand, 2 * HOUR_MS);
        return analytics.funnel({
          steps: ['signup', 'add_to_cart', 'purchase'],
          windowSeconds: 3600,
          from: iso(from),
          to: iso(from + HOUR_MS),
        });
      },
    },
    {
      name: 'funnel · 3 steps, 24 h',
      what: 'GET /analytics/funnel?steps=signup,add_to_cart,purchase&window=3600, a random day',
      calls: 60,
      run: (rand) => {
        const from = hourIn(rand, DAY_MS + HOUR_MS);
        return analytics.funnel({
          steps: ['signup', 'add_to_cart', 'purchase'],
          windowSeconds: 3600,
          from: iso(from),
          to: iso(from + DAY_MS),
        });
      },
    },
    {
      name: 'overview',
      what: 'GET /analytics/overview: totals, ingest rate, failure rate',
      run: () => analytics.overview(),
    },
  ];
}

/** A worker-shaped batch of `size` analytics events, as the event store sends it. */
function workerBatch(size: number, from: number, at: number, run: string): string {
  const rows = Array.from({ length: size }, (_, j) => {
    const i = from + j;
    const user = `user_${(i * 7919) % USERS}`;
    const type = ['page_view', 'click', 'purchase', 'signup'][i % 4] as string;
    const payload = {
      user_id: user,
      event_type: type,
      timestamp: iso(at),
      metadata: { page: `/page/${i % PAGES}`, source: 'web', amount: 10 },
    };
    return {
      event_id: `write-${run}-${i}`,
      topic: 'analytics',
      event_type: type,
      key: user,
      user_id: user,
      payload,
      enrichment: {},
      occurred_at: iso(at),
      accepted_at: iso(at),
      processed_at: iso(at),
      correlation_id: null,
      source_partition: i % 8,
      source_offset: i,
    };
  });
  return JSON.stringify(rows);
}

const ROLLBACK = new Error('measured; rolled back');

async function measureWrites(db: Database, batches: number, size: number) {
  const timings: Record<'rows only' | 'rows + rollups', number[]> = {
    'rows only': [],
    'rows + rollups': [],
  };
  let next = 0;
  const run = Date.now().toString(36);
  for (let b = 0; b < batches; b += 1) {
    // Alternate, so both see the same table and cache state.
    for (const [label, statement] of [
      ['rows only', storeSql.insertProcessedRows],
      ['rows + rollups', storeSql.insertProcessed],
    ] as const) {
      const body = workerBatch(size, next, END - HOUR_MS + b * 1000, run);
      next += size;
      // Rolled back: the data set keeps rows and rollups in step (the funnel's sealed hours
      // rely on it), and a rerun measures the same table.
      await db
        .transaction(async (tx) => {
          const started = performance.now();
          await tx.query(statement, [body]);
          timings[label].push(performance.now() - started);
          throw ROLLBACK;
        })
        .catch((error: unknown) => {
          if (error !== ROLLBACK) throw error;
        });
    }
  }
  return Object.fromEntries(
    Object.entries(timings).map(([label, samples]) => [label, percentiles(samples)]),
  );
}

export const analytics: Scenario = {
  name: 'analytics',
  title: 'Analytics queries on 10 million events',
  async run(context: Context): Promise<ScenarioResult> {
    const events = context.quick ? 20_000 : 10_000_000;
    const loadBatch = context.quick ? 10_000 : 250_000;
    const calls = context.quick ? 10 : 300;
    const warmup = context.quick ? 2 : 20;
    const writeBatches = context.quick ? 2 : 30;
    const reused = process.env.BENCH_ANALYTICS_SCHEMA;
    const keep = reused !== undefined || process.env.BENCH_ANALYTICS_KEEP === '1';
    const only = process.env.BENCH_ANALYTICS_QUERIES;
    const schema = reused ?? uniqueName('bench_analytics');
    const db = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 4 });
    try {
      await migrate(db);
      const load = withRollups(generateEvents);
      const loadStarted = performance.now();
      for (let first = 0; reused === undefined && first < events; first += loadBatch) {
        const last = Math.min(events, first + loadBatch) - 1;
        await db.query(load, [first, last, events]);
        if (((first / loadBatch) | 0) % 4 === 3 || last === events - 1) {
          const seconds = (performance.now() - loadStarted) / 1000;
          context.log(`loaded ${fmt(last + 1)} events in ${fmt(seconds)} s`);
        }
      }
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      if (keep) context.log(`schema ${schema} is kept`);
      await db.query('VACUUM ANALYZE processed_events');
      for (const table of [
        'analytics_counts',
        'analytics_dimensions',
        'analytics_researchers',
        'analytics_researcher_molecules',
        'analytics_researcher_days',
        'analytics_throughput',
      ]) {
        await db.query(`VACUUM ANALYZE ${table}`);
      }
      // What a worker's background sealing would have done by now (it seals closed hours as
      // they close; here the whole month at once, with the worker's settings, timed).
      const sealStarted = performance.now();
      const sealedHours = await new PostgresFunnelSealer(db, WORKER_SEALING).sealAll();
      const sealSeconds = (performance.now() - sealStarted) / 1000;
      context.log(`sealed ${fmt(sealedHours)} funnel hours in ${fmt(sealSeconds)} s`);
      await db.query('VACUUM ANALYZE analytics_funnel_segments');
      const [sizes] = await db.query<{
        events: number;
        users: number;
        table_mb: number;
        rollup_mb: number;
        segments_mb: number;
      }>(
        `SELECT (SELECT count(*) FROM processed_events)::int AS events,
           (SELECT count(DISTINCT user_id) FROM processed_events)::int AS users,
           pg_total_relation_size('processed_events') / 1048576 AS table_mb,
           (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
              AND c.relname LIKE 'analytics\\_%'
              AND c.relname NOT IN ('analytics_funnel_segments', 'analytics_user_numbers'))
             / 1048576 AS rollup_mb,
           (pg_total_relation_size('analytics_funnel_segments')
             + pg_total_relation_size('analytics_user_numbers')) / 1048576 AS segments_mb`,
      );
      context.log(`${fmt(sizes?.events)} events, ${fmt(sizes?.users)} users; measuring queries`);

      const service = new AnalyticsService(new PostgresAnalyticsReader(db), { now: () => END });
      const results: Record<string, Latency & { what: string }> = {};
      // Others may share the machine: the load while the queries ran says how quiet it was.
      const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
      const measured = queries(service).filter((q) => only === undefined || q.name.includes(only));
      for (const query of measured) {
        const rand = random(42);
        for (let i = 0; i < warmup; i += 1) await query.run(rand);
        const samples: number[] = [];
        for (let i = 0; i < Math.min(calls, query.calls ?? calls); i += 1) {
          const started = performance.now();
          await query.run(rand);
          samples.push(performance.now() - started);
        }
        results[query.name] = { what: query.what, ...percentiles(samples) };
        context.log(
          `${query.name}: p50 ${results[query.name]?.p50} ms, p95 ${results[query.name]?.p95} ms`,
        );
      }

      const loadAfter = loadavg().map((l) => Math.round(l * 100) / 100);
      context.log(
        `load average ${loadBefore.join(' ')} before the queries, ${loadAfter.join(' ')} after`,
      );

      const writeSize = 500;
      const writes = only === undefined ? await measureWrites(db, writeBatches, writeSize) : {};
      const rows: (string | number)[][] = Object.entries(results).map(([name, r]) => [
        name,
        r.calls,
        r.p50,
        r.p95,
        r.p99,
        r.max,
        r.p95 < 20 ? 'yes' : 'NO',
      ]);
      const writeRows = Object.entries(writes).map(([label, r]) => [
        label,
        r.calls,
        r.p50,
        r.p95,
        fmt((writeSize / r.p50) * 1000),
      ]);
      return {
        config: {
          events,
          load_batch: loadBatch,
          calls_per_query: calls,
          warmup_calls: warmup,
          data: {
            span: `${iso(START)} .. ${iso(END)}`,
            users: USERS,
            researchers: RESEARCHERS,
            molecules: MOLECULES,
            pages: PAGES,
            mix: '95% user events (45% page_view, 25% click, 10% search, 8% add_to_cart, 5% signup, 3% purchase, 2% login, 2% logout; power-law users; a fifth in the EventFlow shape), 5% chemical',
          },
          load_method:
            'generate_series in the database, inserted through withRollups (the worker persist statement: rows + every rollup in one statement), in batches of load_batch',
          measured_through:
            'AnalyticsService over a pg pool of 4 (the use cases the HTTP routes call), one call at a time',
          write_batch: writeSize,
          write_batches: writeBatches,
        },
        figures: {
          load_seconds: reused === undefined ? Math.round(loadSeconds) : null,
          load_events_per_s: reused === undefined ? Math.round(events / loadSeconds) : null,
          seal_seconds: Math.round(sealSeconds * 10) / 10,
          sealed_hours: sealedHours,
          sizes,
          load_average_1_5_15_min: { before_queries: loadBefore, after_queries: loadAfter },
          queries: results,
          writes,
        },
        tables: [
          {
            title: `Analytics queries on ${fmt(events)} events (ms)`,
            columns: ['query', 'calls', 'p50', 'p95', 'p99', 'max', 'p95 < 20 ms'],
            rows,
          },
          {
            title: `A worker batch of ${writeSize} events, with and without rollups (ms)`,
            columns: ['statement', 'batches', 'p50', 'p95', 'events/s at p50'],
            rows: writeRows,
          },
        ],
        notes: [
          reused === undefined
            ? `Loaded ${fmt(events)} events in ${fmt(loadSeconds)} s (${fmt(events / loadSeconds)} events/s) through the worker's rollup SQL in batches of ${fmt(loadBatch)}; processed_events ${fmt(sizes?.table_mb)} MB, rollups ${fmt(sizes?.rollup_mb)} MB.`
            : `Measured again on the schema a previous run loaded (${fmt(sizes?.events)} events); processed_events ${fmt(sizes?.table_mb)} MB, rollups ${fmt(sizes?.rollup_mb)} MB.`,
          `Each query ran with varied parameters (a seeded random user, researcher, hour, day or week), one call at a time, after warm-up calls; load average (1, 5, 15 min) ${loadBefore.join(' ')} before the queries, ${loadAfter.join(' ')} after (${availableParallelism()} cores).`,
          `The funnel reads each step's sealed hours (one row per type and closed hour: user numbers and times packed, 8 bytes an event; current while the hour rollup's count matches) in one query, and raw events (an index-only range scan of (event_type, occurred_at) INCLUDE (user_id)) only for partial or unsealed hours, then makes one pass in the reader; its cost grows with the steps' events in the range (about 2,100 an hour here: 660 signups, 1,050 carts, 400 purchases; 52,000 for the 24 h funnel). Sealing the month (${fmt(sealedHours)} type-hours${reused === undefined ? '' : ' not sealed by an earlier run'}) took ${fmt(sealSeconds)} s; segments and user numbers take ${fmt(sizes?.segments_mb)} MB. The user summary reads the user's events (index on user and time); everything else reads rollups only.`,
        ],
      };
    } finally {
      await db.close();
      if (!keep) await dropSchema(schema);
    }
  },
};
