/**
 * Herald as the benchmarks run it: the real CLI in child processes, on server PostgreSQL (a
 * fresh schema per run, `herald api` + `herald worker`, or `herald start`) or on the embedded
 * default (`herald start` without DATABASE_URL: the PostgreSQL Herald runs itself, in a fresh
 * DATA_DIR), over a chosen broker.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import pg from 'pg';
import { dropSchema, POSTGRES_URL, REDIS_URL, uniqueName } from './postgres.ts';
import { HERALD, ROOT, readPssMiB, type Service, startHerald } from './processes.ts';

export type DatabaseKind = 'postgres' | 'embedded';
export type Topology = 'api' | 'api+worker' | 'start';

export interface HeraldTarget {
  label: string;
  database: DatabaseKind;
  broker: string;
  topology: Topology;
  url: string;
  services: Service[];
  /**
   * The database's processes, as one: the embedded cluster (postmaster and backends), or the
   * machine's whole PostgreSQL server (shared with whatever else uses it). Summed PSS, so the
   * shared buffers each backend maps count once.
   */
  database_processes: Pick<Service, 'name' | 'rssMiB'>[];
  /** `herald start` on the embedded default: the first start (initdb included) and a later one. */
  start_ms?: { first: number; later: number };
  /** The settings the processes ran with (no secrets: the URLs are local). */
  env: Record<string, string>;
  /** Events persisted so far (processed_events rows). */
  processedCount(): Promise<number>;
  /** Marks the start of a measurement phase for latencySince. */
  markLatency(): Promise<LatencyMark>;
  /**
   * Accepted → processed percentiles (ms) of the events accepted since `mark`: exact, from the
   * rows.
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
  /** Embedded only: stop after the first start and start again, timing both. */
  measureStarts?: boolean;
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
  let base: string | undefined;
  let dataDir: string | undefined;
  if (options.database === 'postgres') {
    schema = runId;
    Object.assign(common, { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema });
  } else {
    base = mkdtempSync(join(tmpdir(), 'herald-bench-'));
    // Passable by the `postgres` user the cluster runs as when the bench runs as root.
    chmodSync(base, 0o755);
    dataDir = join(base, 'data');
    Object.assign(common, { DATA_DIR: dataDir, DATABASE_URL: '', READ_PORT: 'off' });
  }
  const label =
    options.label ?? `herald ${options.topology} · ${options.database} · ${broker} queue`;
  const services: Service[] = [];
  const cleanup = async () => {
    await Promise.all(services.map((s) => s.stop()));
    if (schema !== undefined) await dropSchema(schema).catch(() => {});
    if (base !== undefined) rmSync(base, { recursive: true, force: true });
    await dropBrokerData(broker, runId).catch(() => {});
  };
  let client: pg.Client | undefined;
  try {
    const prof = { cpuProfDir: options.cpuProfDir, bin: options.heraldBin };
    let startMs: { first: number; later: number } | undefined;
    if (options.topology === 'start') {
      let began = Date.now();
      const first = await startHerald('start', common, { name: 'start', ...prof });
      if (options.measureStarts && dataDir !== undefined) {
        const firstMs = Date.now() - began;
        await first.stop();
        began = Date.now();
        services.push(await startHerald('start', common, { name: 'start', ...prof }));
        startMs = { first: firstMs, later: Date.now() - began };
      } else {
        services.push(first);
      }
    } else {
      // The API first: it migrates the fresh schema before the worker joins.
      services.push(await startHerald('api', common, { name: 'api', ...prof }));
      if (options.topology === 'api+worker') {
        services.push(await startHerald('worker', common, { name: 'worker', ...prof }));
      }
    }
    const url = services[0]?.url;
    if (url === undefined) throw new Error('herald did not report its URL');
    // The embedded cluster listens on a unix socket in its directory (short enough here).
    const cluster = dataDir === undefined ? undefined : join(dataDir, 'postgres');
    client = new pg.Client({
      connectionString:
        cluster === undefined
          ? POSTGRES_URL
          : `postgresql://herald@/herald?host=${encodeURIComponent(cluster)}`,
    });
    await client.connect();
    const db = client;
    const table = `${schema ?? 'public'}.processed_events`;
    return {
      label,
      database: options.database,
      broker,
      topology: options.topology,
      url,
      services,
      database_processes: [
        cluster === undefined
          ? { name: "postgres (the machine's server, all of it)", rssMiB: () => serverPss() }
          : { name: 'postgres (embedded cluster)', rssMiB: () => clusterPss(cluster) },
      ],
      ...(startMs === undefined ? {} : { start_ms: startMs }),
      env: common,
      async processedCount() {
        const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
        return Number(r.rows[0]?.n ?? 0);
      },
      async markLatency() {
        return { at: Date.now() };
      },
      async latencySince(mark) {
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

/** The pids of a postmaster and every process it forked. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree: number[] = [];
  const visit = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

function pssOfTree(root: number | undefined): number | undefined {
  if (root === undefined || !Number.isFinite(root)) return undefined;
  let sum = 0;
  for (const pid of processTree(root)) sum += readPssMiB(pid) ?? 0;
  return sum > 0 ? sum : undefined;
}

function clusterPss(cluster: string): number | undefined {
  try {
    return pssOfTree(Number(readFileSync(join(cluster, 'postmaster.pid'), 'utf8').split('\n')[0]));
  } catch {
    return undefined;
  }
}

/** The machine's server: the postmaster is the `postgres -D` process whose parent is not one. */
function serverPss(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('/postgres') && args[1] === '-D' && !args[2]?.includes('herald')) {
        return pssOfTree(Number(entry));
      }
    } catch {
      // not a process, or gone
    }
  }
  return undefined;
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
