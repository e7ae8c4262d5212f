/**
 * Every event the worker is handed ends processed or dead-lettered, whatever it holds, and
 * never holds back the events behind it: on server PostgreSQL, with messages pushed onto the
 * broker directly, as producers other than the API would (issue #17).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { Redis } from 'ioredis';
import { PostgresBroker } from '../../src/adapters/brokers/postgres/broker.ts';
import { RedisBroker } from '../../src/adapters/brokers/redis/broker.ts';
import { streamKey } from '../../src/adapters/brokers/redis/scripts.ts';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import { PostgresEventStore } from '../../src/adapters/store/postgres/event-store.ts';
import { decodeStage, defaultStages, enrichStage, type Stage } from '../../src/app/pipeline.ts';
import { Worker } from '../../src/app/worker.ts';
import { TOPICS } from '../../src/domain/events.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { Broker, OutgoingMessage } from '../../src/ports/broker.ts';
import type { Database } from '../../src/ports/database.ts';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A database that counts the statements sent to it (a transaction's BEGIN and COMMIT too). */
function counting(db: Database): Database & { statements: number } {
  const counted = {
    ...db,
    statements: 0,
    async query<Row>(sql: string, params?: readonly unknown[]) {
      counted.statements++;
      return db.query<Row>(sql, params);
    },
    async transaction<T>(work: Parameters<Database['transaction']>[0]): Promise<T> {
      counted.statements += 2;
      return db.transaction((tx) =>
        work({
          query: (sql, params) => {
            counted.statements++;
            return tx.query(sql, params);
          },
        }),
      ) as Promise<T>;
    },
  };
  return counted;
}

async function serverDatabase(t: TestContext): Promise<Database> {
  const schema = uniqueSchema();
  const db = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 4 });
  t.after(async () => {
    await db.close();
    if (process.env.HERALD_KEEP_TEST_DATA === undefined) await dropSchema(schema);
  });
  await migrate(db);
  return db;
}

/**
 * A worker over `broker` and `db`, stopped after the test, and then the broker closed (after
 * hooks run in the order registered).
 */
async function startWorker(
  t: TestContext,
  db: Database,
  broker: Broker,
  options: { stages?: readonly Stage[]; batchSize?: number } = {},
) {
  const metrics = new Metrics();
  const worker = new Worker(new PostgresEventStore(db), metrics, createLogger('silent'), {
    group: 'processors',
    consumerId: `w-${randomBytes(3).toString('hex')}`,
    topics: TOPICS,
    batchSize: options.batchSize ?? 100,
    concurrency: 1,
    retry: { baseMs: 20, maxMs: 200, maxAttempts: 2 },
    stages: options.stages ?? defaultStages,
  });
  await worker.start(broker);
  t.after(async () => {
    await worker.stop();
    await broker.close();
  });
  return metrics;
}

function event(id: string, key: string, extra: Record<string, unknown> = {}): OutgoingMessage {
  return {
    id,
    topic: 'events',
    key,
    type: 'click',
    value: { event_type: 'click', user_id: key, ...extra },
    headers: { correlation_id: `c-${id}` },
  };
}

async function statusOf(db: Database, ids: readonly string[]) {
  const rows = await db.query<{ event_id: string; status: string }>(
    `SELECT event_id, CASE WHEN p.event_id IS NOT NULL THEN 'processed' ELSE f.status END AS status
     FROM unnest($1::text[]) AS i(event_id)
     LEFT JOIN processed_events p USING (event_id)
     LEFT JOIN failed_events f USING (event_id)`,
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.event_id, r.status]));
}

async function metricValue(metrics: Metrics, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

test('one event the database refuses in a batch of 500: it alone is dead-lettered with the database’s reason, in O(log n) statements', async (t) => {
  const db = await serverDatabase(t);
  const broker = await PostgresBroker.open(db, { partitions: 1, leaseMs: 5000, pollMs: 10 });
  const ids = Array.from({ length: 500 }, (_, i) => `e${i}`);
  // A time only the database refuses: the stages here do not check times (validate would).
  await broker.publish(
    ids.map((id, i) =>
      event(id, `u${i % 7}`, i === 317 ? { timestamp: '2024-01-01T12:00:00+20:00' } : {}),
    ),
  );
  const counted = counting(db);
  const metrics = await startWorker(t, counted, broker, {
    stages: [decodeStage, enrichStage],
    batchSize: 500,
  });

  await eventually(async () => ((await broker.lag('processors'))[0]?.lag === 0 ? true : undefined));
  const statuses = await statusOf(db, ids);
  assert.equal(statuses.e317, 'dead');
  assert.deepEqual(
    ids.filter((id) => id !== 'e317' && statuses[id] !== 'processed'),
    [],
    'every other event is persisted',
  );
  const [letter] = await new PostgresEventStore(db).listDeadLetters({ limit: 10 });
  assert.equal(letter?.id, 'e317');
  assert.equal(letter?.reason, 'persist_failed');
  assert.equal(letter?.errorCode, 'HERALD_STORE_REFUSED');
  assert.match(letter?.lastError ?? '', /time zone displacement out of range.*\(SQLSTATE 22009\)/);
  assert.equal(letter?.offset, 317);
  assert.deepEqual(letter?.payload, {
    event_type: 'click',
    user_id: 'u2',
    timestamp: '2024-01-01T12:00:00+20:00',
  });
  // The whole batch, then two halves per level down to the one event: about 2·log2(500).
  assert.ok(
    counted.statements <= 2 * Math.ceil(Math.log2(500)) + 6,
    `${counted.statements} statements`,
  );
  assert.equal(await metricValue(metrics, 'herald_worker_batch_failures_total'), 0);
  const breaker = (await metrics.registry.getMetricsAsJSON()).find(
    (m) => m.name === 'herald_circuit_breaker_state',
  );
  assert.equal(breaker?.values[0]?.value, 0, 'a refused event is no reason to open the breaker');
});

test('several refused events among good ones, in order: each refused one dead-lettered, the rest persisted', async (t) => {
  const db = await serverDatabase(t);
  const broker = await PostgresBroker.open(db, { partitions: 1, leaseMs: 5000, pollMs: 10 });
  const bad = new Set([0, 13, 14, 63]);
  const ids = Array.from({ length: 64 }, (_, i) => `e${i}`);
  await broker.publish(
    ids.map((id, i) =>
      event(id, 'same-user', bad.has(i) ? { timestamp: '2024-01-01T12:00:00-16:00' } : {}),
    ),
  );
  await startWorker(t, db, broker, { stages: [decodeStage, enrichStage], batchSize: 64 });
  await eventually(async () => ((await broker.lag('processors'))[0]?.lag === 0 ? true : undefined));
  const statuses = await statusOf(db, ids);
  assert.deepEqual(
    ids.filter((_, i) => statuses[`e${i}`] !== (bad.has(i) ? 'dead' : 'processed')),
    [],
  );
});

test('a +20:00 timestamp arriving straight from the broker is invalid, and the events behind it go on', async (t) => {
  const db = await serverDatabase(t);
  const broker = await PostgresBroker.open(db, { partitions: 2, leaseMs: 5000, pollMs: 10 });
  await startWorker(t, db, broker);
  await broker.publish([
    event('tz', 'k', { timestamp: '2024-01-01T12:00:00+20:00' }),
    event('canary', 'k', { timestamp: '2024-01-01T12:00:00+15:59' }),
  ]);
  await eventually(async () => {
    const s = await statusOf(db, ['tz', 'canary']);
    return s.tz === 'dead' && s.canary === 'processed' ? true : undefined;
  });
  const letter = await new PostgresEventStore(db).getDeadLetter('tz');
  assert.equal(letter?.reason, 'invalid');
  assert.equal(
    letter?.lastError,
    'timestamp "2024-01-01T12:00:00+20:00" is not storable: the UTC offset must be within ±15:59',
  );
  const [row] = await db.query<{ processed_at: Date; last_failed_at: Date }>(
    `SELECT p.processed_at, f.last_failed_at FROM processed_events p, failed_events f
     WHERE p.event_id = 'canary' AND f.event_id = 'tz'`,
  );
  assert.ok(
    (row?.last_failed_at.getTime() ?? Number.POSITIVE_INFINITY) <=
      (row?.processed_at.getTime() ?? 0),
    'the earlier event of the key reached its end no later than the one behind it',
  );
});

test('what another producer appends to the log (a number past JavaScript, 1e400; a value that is no object) is dead-lettered', async (t) => {
  const db = await serverDatabase(t);
  const broker = await PostgresBroker.open(db, { partitions: 1, leaseMs: 5000, pollMs: 10 });
  await startWorker(t, db, broker);
  // Straight into the log, as a producer sharing the database would append.
  await db.query(`SELECT log_append($1::jsonb, ARRAY[0], 'unused')`, [
    `[{"i":0,"event_id":"huge","generation":0,"topic":"chemical","event_type":"molecule_submitted","key":"m","partition":0,"payload":{"molecule_id":"m","researcher":"R","data":{"formula":"H2O","weight":1e400}},"headers":{}},
      {"i":1,"event_id":"array","generation":0,"topic":"chemical","event_type":"molecule_submitted","key":"m","partition":0,"payload":[1,2],"headers":{}},
      {"i":2,"event_id":"after","generation":0,"topic":"chemical","event_type":"molecule_submitted","key":"m","partition":0,"payload":{"molecule_id":"m","researcher":"R","data":{"formula":"H2O"}},"headers":{}}]`,
  ]);
  await eventually(async () => {
    const s = await statusOf(db, ['huge', 'array', 'after']);
    return s.huge === 'dead' && s.array === 'dead' && s.after === 'processed' ? true : undefined;
  });
  const store = new PostgresEventStore(db);
  const letter = await store.getDeadLetter('huge');
  assert.equal(letter?.reason, 'invalid');
  assert.equal(letter?.lastError, 'data.weight is Infinity, not a finite number');
  const array = await store.getDeadLetter('array');
  assert.equal(array?.reason, 'poison');
  assert.equal(array?.lastError, 'value is not a JSON object');
  assert.equal(JSON.parse(array?.payloadText ?? ''), '[1,2]', 'what the log held, as text');
});

test('NUL, lone surrogates, non-JSON and id-less entries straight from Redis are dead-lettered and stored; the canaries behind them are processed', async (t) => {
  const db = await serverDatabase(t);
  const prefix = `herald-test-${randomBytes(5).toString('hex')}`;
  const broker = await RedisBroker.open({
    url: REDIS_URL,
    prefix,
    partitions: 1,
    leaseMs: 5000,
    pollMs: 10,
  });
  const raw = new Redis(REDIS_URL);
  const stream = streamKey(prefix, 'events', 0);
  const add = (fields: Record<string, string>) =>
    raw.xadd(stream, '0-*', ...Object.entries(fields).flat());
  const entry = (id: string, value: string, extra: Record<string, string> = {}) =>
    add({
      id,
      type: 'click',
      key: 'k',
      generation: '0',
      accepted_at: String(Date.now()),
      value,
      headers: '{}',
      ...extra,
    });
  // JSON text as another producer may write it: escapes JSON allows and PostgreSQL refuses.
  await entry('nul', '{"event_type":"click","user_id":"u\\u0000"}');
  await entry('lone', '{"event_type":"click","user_id":"u","tag":"\\ud83d"}');
  await entry('lone-key', '{"event_type":"click","user_id":"u","\\udc00":1}');
  await entry('not-json', '{"event_type": click');
  await entry('array', '[1,2,3]');
  await entry('', '{"event_type":"click","user_id":"u"}');
  await entry('bad-header', '{"event_type":"click","user_id":"u"}', { headers: '{"x":"\\u0000"}' });
  await entry('bad-time', '{"event_type":"click","user_id":"u"}', { accepted_at: '1e30' });
  await entry('canary', '{"event_type":"click","user_id":"u"}');
  await startWorker(t, db, broker);
  t.after(async () => {
    const keys = await raw.keys(`${prefix}:*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
  });

  await eventually(async () =>
    (await broker.lag('processors')).every((p) => p.lag === 0) ? true : undefined,
  );
  const store = new PostgresEventStore(db);
  const statuses = await statusOf(db, [
    'nul',
    'lone',
    'lone-key',
    'not-json',
    'array',
    'bad-header',
    'bad-time',
    'canary',
  ]);
  assert.deepEqual(statuses, {
    nul: 'dead',
    lone: 'dead',
    'lone-key': 'dead',
    'not-json': 'dead',
    array: 'dead',
    'bad-header': 'dead',
    'bad-time': 'processed',
    canary: 'processed',
  });
  const nul = await store.getDeadLetter('nul');
  assert.equal(nul?.reason, 'invalid');
  assert.equal(nul?.lastError, 'user_id contains NUL (\\u0000)');
  assert.deepEqual(JSON.parse(nul?.payloadText ?? ''), { event_type: 'click', user_id: 'u\u0000' });
  const lone = await store.getDeadLetter('lone');
  assert.deepEqual(JSON.parse(lone?.payloadText ?? '').tag, '\ud83d', 'kept exactly as received');
  const notJson = await store.getDeadLetter('not-json');
  assert.equal(notJson?.reason, 'poison');
  assert.equal(notJson?.lastError, 'value is not JSON');
  assert.equal(JSON.parse(notJson?.payloadText ?? ''), '{"event_type": click');
  assert.equal((await store.getDeadLetter('array'))?.lastError, 'value is not a JSON object');
  assert.equal((await store.getDeadLetter('no-id:events:0:6'))?.lastError, 'message has no id');
  assert.match(
    (await store.getDeadLetter('bad-header'))?.lastError ?? '',
    /^message header x contains NUL/,
  );
});

test('an event whose dead letter cannot be stored at all leaves a minimal record, and its partition moves on', async (t) => {
  const db = await serverDatabase(t);
  const prefix = `herald-test-${randomBytes(5).toString('hex')}`;
  const broker = await RedisBroker.open({
    url: REDIS_URL,
    prefix,
    partitions: 1,
    leaseMs: 5000,
    pollMs: 10,
  });
  // An id longer than any primary key index takes (random, so it does not compress).
  const long = randomBytes(7500).toString('base64');
  await broker.publish([event(long, 'k'), event('canary', 'k')]);
  await startWorker(t, db, broker);
  t.after(async () => {
    const client = new Redis(REDIS_URL);
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });
  await eventually(async () =>
    (await statusOf(db, ['canary'])).canary === 'processed' ? true : undefined,
  );
  const [letter] = await new PostgresEventStore(db).listDeadLetters({ limit: 10 });
  assert.equal(letter?.reason, 'persist_failed');
  assert.ok(letter?.id.startsWith(long.slice(0, 180)));
  assert.match(
    letter?.lastError ?? '',
    /index row .*\(SQLSTATE 54000\).*stored as a minimal record/,
  );
  assert.equal(letter?.partition, 0);
  assert.equal(letter?.offset, 1);
});
