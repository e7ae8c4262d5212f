/**
 * Fault scenarios shared by the per-broker fault tests: the same run (API, workers, a load of
 * per-key sequenced events) with a different broker underneath.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { assertDelivery, checkDelivery, waitForProcessed } from './delivery-check.ts';
import { eventually } from './eventually.ts';
import { type Load, startLoad } from './fault-load.ts';
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
  url: string;
  load: Load;
  workers: HeraldProcess[];
}

/** Starts `herald api` and `workers` workers on `env`, then a load of `total` events. */
export async function startCluster(
  t: TestContext,
  env: Record<string, string>,
  options: { total: number; workers?: number; runId: string },
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
    keysPerLane: 16,
  });
  return { url, load, workers };
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
  run: ClusterRun,
  database: { databaseUrl: string; schema: string },
  options: { minAcknowledged: number; note?: string; drainMs?: number },
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
  assertDelivery(report, { minAcknowledged: options.minAcknowledged });
  return report;
}
