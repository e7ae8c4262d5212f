import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresBroker } from '../../src/adapters/brokers/postgres/broker.ts';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import { PostgresEventStore } from '../../src/adapters/store/postgres/event-store.ts';
import { defaultStages } from '../../src/app/pipeline.ts';
import { Worker } from '../../src/app/worker.ts';
import { TOPICS } from '../../src/domain/events.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

test('while the database is unreachable the worker backs off and dead-letters nothing; it resumes after', async (t) => {
  const schema = uniqueSchema();
  t.after(() => dropSchema(schema));
  const direct = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 2 });
  t.after(() => direct.close());
  await migrate(direct);
  const options = { partitions: 2, leaseMs: 2000, pollMs: 10 };
  const producer = await PostgresBroker.open(direct, options);

  // The worker reaches the database only through a proxy the test can cut.
  const proxy = await TcpProxy.start(5432);
  t.after(() => proxy.close());
  const viaProxy = await openPostgres({
    url: `postgresql://postgres@127.0.0.1:${proxy.port}/test`,
    schema,
    poolSize: 2,
  });
  t.after(() => viaProxy.close());
  const metrics = new Metrics();
  const worker = new Worker(new PostgresEventStore(viaProxy), metrics, createLogger('silent'), {
    group: 'processors',
    consumerId: 'w1',
    topics: TOPICS,
    batchSize: 100,
    concurrency: 1,
    retry: { baseMs: 20, maxMs: 200, maxAttempts: 1 },
    stages: defaultStages,
  });
  await worker.start(await PostgresBroker.open(viaProxy, options));
  t.after(() => worker.stop());

  const count = async (table: string) =>
    (await direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]?.n ?? 0;
  const publish = (from: number) =>
    producer.publish(
      Array.from({ length: 50 }, (_, i) => ({
        id: `e${from + i}`,
        topic: 'events',
        key: `u${i % 5}`,
        type: 'click',
        value: { event_type: 'click', user_id: `u${i % 5}` },
        headers: {},
      })),
    );

  await publish(0);
  await eventually(async () => ((await count('processed_events')) === 50 ? true : undefined));

  proxy.cut();
  await publish(50);
  // Long enough for many failed attempts at the 20–200 ms backoff.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(await count('processed_events'), 50, 'nothing can be persisted while cut off');
  assert.equal(
    await count('failed_events'),
    0,
    'an outage is not the events’ fault: no dead letters',
  );

  proxy.restore();
  await eventually(async () => ((await count('processed_events')) === 100 ? true : undefined), {
    timeoutMs: 15_000,
  });
  assert.equal(await count('failed_events'), 0);
});
