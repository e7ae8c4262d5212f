/**
 * The link between the workers and PostgreSQL is slow and lossy: every chunk is delayed with
 * jitter and connections are cut at random mid-query — including after a COMMIT reached the
 * server but before its acknowledgement reached the worker, the ambiguous case. The worker must
 * treat every such failure as "unknown outcome, retry": persisting is idempotent, so nothing is
 * lost, nothing takes effect twice, order holds, and nothing is dead-lettered for it.
 * The ambiguous case is also forced: five times the connection dies while the answer to a
 * batch INSERT the database has already committed is on its way back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { assertDelivery, checkDelivery, waitForProcessed } from '../helpers/delivery-check.ts';
import { startLoad } from '../helpers/fault-load.ts';
import { startWorker } from '../helpers/fault-scenarios.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const TOTAL = 6000;

test('a slow, lossy link between workers and PostgreSQL (delays, connections cut mid-query) loses and duplicates nothing', async (t) => {
  const schema = uniqueSchema('herald_fault');
  t.after(() => dropSchema(schema));
  const proxy = await TcpProxy.start(5432);
  t.after(() => proxy.close());
  const common = {
    DATABASE_SCHEMA: schema,
    WORKER_POLL_MS: '20',
    WORKER_LEASE_MS: '2000',
    WORKER_BATCH_SIZE: '100',
    RETRY_BASE_MS: '50',
    RETRY_MAX_MS: '500',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const api = runHerald(t, ['api'], { ...common, DATABASE_URL: POSTGRES_URL });
  const url = await api.url;
  const viaProxy = {
    ...common,
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${proxy.port}/test`,
  };
  const workers = [await startWorker(t, viaProxy), await startWorker(t, viaProxy)];

  // From here on the link is bad: 5–25 ms per chunk and a cut every fifty chunks or so,
  // and it stays bad until every event is processed, so all the work happens over it.
  proxy.setFaults({ delayMs: 5, jitterMs: 20, cutProbability: 0.02 });
  // And five times, exactly the ambiguous case: the database has run a batch's INSERT (an
  // autocommitted statement) and its answer is on the way back when the connection dies.
  let ambiguous = 0;
  const inserting = new Set<number>();
  proxy.tap((direction, chunk, connection) => {
    if (direction === 'up') {
      if (chunk.includes('INSERT INTO processed_events')) inserting.add(connection);
      return false;
    }
    if (!inserting.delete(connection) || ambiguous >= 5) return false;
    ambiguous++;
    return true;
  });
  const load = startLoad({ url, total: TOTAL, runId: 'lossy', lanes: 4, keysPerLane: 8 });
  await load.done;
  await waitForProcessed({ databaseUrl: POSTGRES_URL, schema, expected: TOTAL, timeoutMs: 90_000 });
  const cutsWhileWorking = proxy.cuts;
  proxy.setFaults({});
  const report = await checkDelivery(load.log, { databaseUrl: POSTGRES_URL, schema });
  t.diagnostic(
    `connections cut mid-stream: ${cutsWhileWorking}; acknowledged ${report.acknowledged}`,
  );
  assertDelivery(report, { minAcknowledged: TOTAL, deadLetters: 0 });
  assert.ok(cutsWhileWorking >= 10, `connections were cut while working (${cutsWhileWorking})`);
  assert.equal(ambiguous, 5, 'acknowledgements of written batches were lost');
  for (const worker of workers) {
    assert.equal(
      worker.child.exitCode,
      null,
      `a lost connection never kills a worker; its last log lines: ${JSON.stringify(worker.logs.slice(-5))}`,
    );
  }
});
