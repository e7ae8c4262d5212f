/**
 * Herald as the benchmarks run it: the real CLI in child processes, on server PostgreSQL (a
 * fresh schema per run, `herald api` + `herald worker`, or `herald start`) or on embedded
 * PGlite (`herald start`, data in a fresh temporary directory), over a chosen broker.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import pg from 'pg';
import { dropSchema, POSTGRES_URL, REDIS_URL, uniqueName } from './postgres.ts';
import { HERALD, ROOT, type Service, startHerald } from './processes.ts';

export type DatabaseKind = 'postgres' | 'pglite';
export type Topology = 'api' | 'api+worker' | 'start';

export interface HeraldTarget {
  label: string;
  database: DatabaseKind;
  broker: string;
  topology: Topology;
  url: string;
  services: Service[];
  /** The settings the processes ran with (no secrets: the URLs are local). */
  env: Record<string, string>;
  /** Events persisted so far (processed_events rows, or the worker's counter on PGlite). */
  processedCount(): Promise<number>;
  /** Marks the start of a measurement phase for latencySince. */
  markLatency(): Promise<LatencyMark>;
  /**
   * Accepted → processed percentiles (ms) of the events accepted since `mark`: exact, from the
   * rows, on PostgreSQL; from the end-to-end histogram (bucket-interpolated) on PGlite.
   */
  latencySince(mark: LatencyMark): Promise<LatencySummary>;
  stop(): Promise<void>;
}

export interface LatencyMark {
  at: number;
  metrics?: string;
}

export interface LatencySummary {
  source: string;
  events: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Environment for BROKER=<broker>; names are unique per run so runs never share a stream. */
export function brokerEnv(broker: string, runId: string): Record<string, string> {
  switch (broker) {
    case 'postgres':
      return { BROKER: 'postgres' };
    case 'redis':
      return { BROKER: 'redis', REDIS_URL, BROKER_NAMESPACE: runId };
    case 'kafka':
      return {
        BROKER: 'kafka',
        KAFKA_BROKERS: process.env.BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092',
        BROKER_NAMESPACE: runId,
      };
    default:
      throw new Error(`unknown broker "${broker}" (postgres, redis, kafka)`);
  }
}

export interface TargetOptions {
  database: DatabaseKind;
  topology: Topology;
  broker?: string;
  env?: Record<string, string>;
  cpuProfDir?: string;
  label?: string;
  /** Another checkout's bin/herald.js (see BENCH_BASELINE); this checkout's by default. */
  heraldBin?: string;
}

export async function startTarget(options: TargetOptions): Promise<HeraldTarget> {
  const broker = options.broker ?? 'postgres';
  const runId = uniqueName('herald_bench');
  const common: Record<string, string> = {
    ...brokerEnv(broker, runId),
    AGENTS_ENABLED: 'false',
    // Readiness is read from the info lines; request logging is off in Herald anyway.
    LOG_LEVEL: 'info',
    ...options.env,
  };
  let schema: string | undefined;
  let dataDir: string | undefined;
  if (options.database === 'postgres') {
    schema = runId;
    Object.assign(common, { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema });
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
    Object.assign(common, { DATA_DIR: dataDir, DATABASE_URL: '' });
  }
  const label =
    options.label ?? `herald ${options.topology} · ${options.database} · ${broker} queue`;
  const services: Service[] = [];
  const cleanup = async () => {
    await Promise.all(services.map((s) => s.stop()));
    if (schema !== undefined) await dropSchema(schema).catch(() => {});
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    await dropBrokerData(broker, runId).catch(() => {});
  };
  let client: pg.Client | undefined;
  try {
    const prof = { cpuProfDir: options.cpuProfDir, bin: options.heraldBin };
    if (options.topology === 'start') {
      services.push(await startHerald('start', common, { name: 'start', ...prof }));
    } else {
      // The API first: it migrates the fresh schema before the worker joins.
      services.push(await startHerald('api', common, { name: 'api', ...prof }));
      if (options.topology === 'api+worker') {
        services.push(await startHerald('worker', common, { name: 'worker', ...prof }));
      }
    }
    const url = services[0]?.url;
    if (url === undefined) throw new Error('herald did not report its URL');
    if (schema !== undefined) {
      client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
    }
    const db = client;
    const table = `${schema}.processed_events`;
    return {
      label,
      database: options.database,
      broker,
      topology: options.topology,
      url,
      services,
      env: common,
      async processedCount() {
        if (db !== undefined) {
          const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
          return Number(r.rows[0]?.n ?? 0);
        }
        return metricSum(await metricsText(url), 'herald_events_processed_total');
      },
      async markLatency() {
        return db !== undefined
          ? { at: Date.now() }
          : { at: Date.now(), metrics: await metricsText(url) };
      },
      async latencySince(mark) {
        if (db !== undefined) {
          const r = await db.query<Record<string, string | null>>(
            `SELECT count(*) AS n,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
               max(ms) AS max
             FROM (SELECT extract(epoch FROM processed_at - accepted_at) * 1000 AS ms
                   FROM ${table}
                   WHERE accepted_at >= to_timestamp($1 / 1000.0)) t`,
            [mark.at],
          );
          const row = r.rows[0] ?? {};
          const n = (k: string) => Math.round(Number(row[k] ?? Number.NaN) * 10) / 10;
          return {
            source: 'processed_events.processed_at − accepted_at',
            events: Number(row.n ?? 0),
            p50: n('p50'),
            p95: n('p95'),
            p99: n('p99'),
            max: n('max'),
          };
        }
        return histogramSummary(
          await metricsText(url),
          'herald_event_end_to_end_seconds',
          mark.metrics,
        );
      },
      async stop() {
        await client?.end().catch(() => {});
        await cleanup();
      },
    };
  } catch (error) {
    await client?.end().catch(() => {});
    await cleanup();
    throw error;
  }
}

/** Removes what a run left in Redis (`<namespace>:*` keys) or Kafka (`<namespace>.*` topics). */
async function dropBrokerData(broker: string, namespace: string): Promise<void> {
  if (broker === 'redis') {
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  } else if (broker === 'kafka') {
    const admin = new Admin({
      clientId: `${namespace}-cleanup`,
      bootstrapBrokers: (process.env.BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    });
    try {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    } finally {
      await admin.close();
    }
  }
}

/**
 * Whether this Herald accepts BROKER=<broker> (`herald config` exits 2 on a value it does not
 * know): the redis and kafka transports join the harness as soon as the platform has them.
 */
export function brokerSupported(broker: string): { ok: boolean; reason: string } {
  const result = spawnSync(process.execPath, [HERALD, 'config'], {
    cwd: ROOT,
    env: { ...process.env, ...brokerEnv(broker, 'probe') },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { ok: result.status === 0, reason: (result.stderr || result.stdout).trim().slice(0, 300) };
}

export async function metricsText(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  return response.text();
}

/** Sum of every sample of a counter (all label sets). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

function histogramBuckets(text: string, name: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    buckets.set(bound, (buckets.get(bound) ?? 0) + value);
  }
  return buckets;
}

/**
 * Percentiles from a Prometheus histogram (all label sets summed) of what was observed since
 * `baseline` (an earlier scrape), interpolated linearly inside buckets, in ms.
 */
export function histogramSummary(text: string, name: string, baseline?: string): LatencySummary {
  const buckets = histogramBuckets(text, name);
  if (baseline !== undefined) {
    for (const [bound, count] of histogramBuckets(baseline, name)) {
      buckets.set(bound, (buckets.get(bound) ?? 0) - count);
    }
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  const at = (q: number) => {
    const rank = q * total;
    let previousBound = 0;
    let previousCount = 0;
    for (const [bound, count] of sorted) {
      if (count >= rank) {
        if (!Number.isFinite(bound)) return previousBound * 1000;
        const inBucket = count - previousCount;
        const fraction = inBucket === 0 ? 0 : (rank - previousCount) / inBucket;
        return Math.round((previousBound + (bound - previousBound) * fraction) * 10000) / 10;
      }
      previousBound = bound;
      previousCount = count;
    }
    return Number.NaN;
  };
  return {
    source: `${name} histogram (bucket-interpolated)`,
    events: total,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: Number.NaN,
  };
}
