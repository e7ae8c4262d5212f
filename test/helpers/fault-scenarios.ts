/**
 * Fault scenarios shared by the fault tests: the same run (API, workers, a load of per-key
 * sequenced events) with a different fault or broker underneath, and the checks they share:
 * processing resumes after an outage, the API refuses only with 503, every acknowledged event
 * is processed once, in order (delivery-check.ts).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { assertDelivery, checkDelivery, waitForProcessed } from './delivery-check.ts';
import { eventually } from './eventually.ts';
import { type Load, type LoadOptions, startLoad } from './fault-load.ts';
import { type HeraldProcess, runHerald } from './herald-process.ts';

export async function startWorker(
  t: TestContext,
  env: Record<string, string>,
): Promise<HeraldProcess> {
  const worker = runHerald(t, ['worker'], env);
  await eventually(() => (worker.logs.some((l) => l.msg === 'worker started') ? true : undefined), {
    timeoutMs: 30_000,
    message: 'worker started',
  });
  return worker;
}

export interface ClusterRun {
  api: HeraldProcess;
  url: string;
  load: Load;
  workers: HeraldProcess[];
}

/**
 * Starts `herald api` and `workers` workers on `env`, then a load of `total` events (4 lanes of
 * `keysPerLane` keys, 16 unless given).
 */
export async function startCluster(
  t: TestContext,
  env: Record<string, string>,
  options: { total: number; workers?: number; runId: string } & Pick<
    LoadOptions,
    'keysPerLane' | 'timeoutMs'
  >,
): Promise<ClusterRun> {
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const workers: HeraldProcess[] = [];
  for (let i = 0; i < (options.workers ?? 2); i++) workers.push(await startWorker(t, env));
  const load = startLoad({
    url,
    total: options.total,
    runId: options.runId,
    lanes: 4,
    keysPerLane: options.keysPerLane ?? 16,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  return { api, url, load, workers };
}

/** Waits until the load has `count` events acknowledged (the run is flowing). */
export async function acknowledgedAtLeast(load: Load, count: number, message: string) {
  await eventually(() => (load.log.acknowledged.size >= count ? true : undefined), {
    timeoutMs: 60_000,
    message,
  });
}

/** Processed events in the database at `url` (schema public), or undefined while it is down. */
export async function processedCount(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM processed_events',
    );
    return rows[0]?.n;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * After the database at `url` came back: how long until processing moved again, ms (fails
 * after `timeoutMs`).
 */
export async function resumedAfterRecovery(url: string, timeoutMs: number): Promise<number> {
  const recoveredAt = performance.now();
  const before = await eventually(() => processedCount(url), { timeoutMs: 10_000 });
  await eventually(
    async () => {
      const now = await processedCount(url);
      return now !== undefined && now > before ? now : undefined;
    },
    { timeoutMs, intervalMs: 100, message: 'processing to resume after recovery' },
  );
  return Math.round(performance.now() - recoveredAt);
}

/** A fault may make the API refuse, never fail: every refusal is a 503 (or no answer). */
export function assertRefusalsAre503(load: Load): void {
  for (const status of load.stats.refused.keys()) {
    assert.ok(status === 0 || status === 503, `the API refused with ${status}, not 503`);
  }
}

/**
 * Kills the oldest worker with SIGKILL every `everyMs` while the load runs (at least `minKills`
 * times), starting a replacement at once; returns the number of kills.
 */
export async function killWorkersWhileLoading(
  t: TestContext,
  env: Record<string, string>,
  run: ClusterRun,
  { everyMs = 1500, minKills = 3 } = {},
): Promise<number> {
  let kills = 0;
  let loading = true;
  void run.load.done.then(() => {
    loading = false;
  });
  while (loading || kills < minKills) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    const victim = run.workers.shift();
    if (victim === undefined) break;
    victim.child.kill('SIGKILL');
    assert.equal(await victim.exited, 'SIGKILL');
    kills++;
    run.workers.push(await startWorker(t, env));
  }
  return kills;
}

/** Waits for the load and its processing, then checks delivery (see delivery-check.ts). */
export async function finishAndCheck(
  t: TestContext,
  run: Pick<ClusterRun, 'load'>,
  database: { databaseUrl: string; schema: string },
  options: { minAcknowledged: number; note?: string; drainMs?: number; deadLetters?: number },
) {
  await run.load.done;
  const waited = await waitForProcessed({
    ...database,
    expected: run.load.log.acknowledged.size,
    timeoutMs: options.drainMs ?? 60_000,
  });
  const report = await checkDelivery(run.load.log, database);
  t.diagnostic(
    `acknowledged ${report.acknowledged}, processed ${waited.waitedMs} ms after the load` +
      `${options.note ? `; ${options.note}` : ''}`,
  );
  assertDelivery(report, {
    minAcknowledged: options.minAcknowledged,
    ...(options.deadLetters === undefined ? {} : { deadLetters: options.deadLetters }),
  });
  return report;
}
