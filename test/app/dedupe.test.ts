/**
 * The dedupe window (DEDUPE_WINDOW) means the same on every broker: an id sent again within
 * the window of its acceptance is a duplicate (answered `duplicate: true`, stored once), at and
 * past the window's end it is accepted again, and it holds across a restart and across the
 * log's retention. On Kafka and Redis it is the DedupingBroker (src/app/dedupe.ts) over the
 * database; on Postgres, log_append itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { RedisBroker } from '../../src/adapters/brokers/redis/broker.ts';
import { PostgresDedupeStore } from '../../src/adapters/store/postgres/dedupe.ts';
import { DedupingBroker } from '../../src/app/dedupe.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { RunningPlatform } from '../../src/platform/start.ts';
import type { OutgoingMessage } from '../../src/ports/broker.ts';
import type { DedupeStore } from '../../src/ports/dedupe.ts';
import { DATABASES, dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { type Cleanup, getJson, postJson, startTestPlatform } from '../helpers/platform.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KAFKA_BROKERS = process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092';
const WINDOW_MS = 3_600_000;

const BROKERS: Record<string, Record<string, string>> = {
  postgres: { BROKER: 'postgres' },
  redis: { BROKER: 'redis', REDIS_URL, LOG_RETENTION: '1h' },
  kafka: { BROKER: 'kafka', KAFKA_BROKERS, KAFKA_SESSION_TIMEOUT_MS: '6000', LOG_RETENTION: '1h' },
};

/** One installation (a schema, a broker namespace) that platforms can be started on, in turn. */
function installation(t: Cleanup, broker: string) {
  const schema = uniqueSchema('herald_dedupe');
  t.after(() => (process.env.HERALD_KEEP_TEST_DATA === undefined ? dropSchema(schema) : undefined));
  const settings = {
    ...BROKERS[broker],
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    BROKER_NAMESPACE: `herald-dedupe-${randomBytes(4).toString('hex')}`,
    QUEUE_PARTITIONS: '2',
    DEDUPE_WINDOW: '1h',
    AGENTS_ENABLED: 'false',
    NOTIFICATIONS_ENABLED: 'false',
    // Maintenance only when the test asks for a pass.
    RETENTION_INTERVAL: '1d',
  };
  return { start: () => startTestPlatform(t, settings, { database: 'postgres' }) };
}

const send = async (url: string, id: string) => {
  const response = await postJson(`${url}/api/v1/events/analytics`, {
    id,
    user_id: 'u1',
    event_type: 'click',
  });
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return response.body.duplicate as boolean;
};

/**
 * Moves the id's latest acceptance back by `ms` (as if accepted that long ago): its claims on
 * Kafka and Redis, its row of the log (with the window period it would then have been appended
 * in) on Postgres.
 */
const backdate = async (platform: RunningPlatform, id: string, ms: number) => {
  await platform.db.query(
    `UPDATE event_dedupe SET accepted_at = now() - $2::bigint * interval '1 millisecond'
     WHERE event_id = $1`,
    [id, ms],
  );
  await platform.db.query(
    `UPDATE raw_events SET accepted_at = now() - $2::bigint * interval '1 millisecond',
       dedupe_period = floor(extract(epoch FROM now() - $2::bigint * interval '1 millisecond')
         * 1000 / $3)::bigint
     WHERE (segment, partition, "offset") = (
       SELECT segment, partition, "offset" FROM raw_events
       WHERE event_id = $1 AND dedupe_period IS NOT NULL ORDER BY accepted_at DESC LIMIT 1)`,
    [id, ms, WINDOW_MS],
  );
};

const storedRows = async (platform: RunningPlatform, id: string) => {
  const [row] = await platform.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM processed_events WHERE event_id = $1',
    [id],
  );
  return row?.n ?? 0;
};

for (const broker of Object.keys(BROKERS)) {
  describe(`the dedupe window over ${broker}`, () => {
    test('inside it a resend is a duplicate, at and past its end the id is accepted again; stored once throughout', async (t) => {
      const { start } = installation(t, broker);
      const platform = await start();
      const { url } = platform;
      assert.equal(await send(url, 'evt-1'), false, 'first acceptance');
      assert.equal(await send(url, 'evt-1'), true, 'inside the window');
      await eventually(async () => {
        const { body } = await getJson(`${url}/api/v1/events/evt-1`);
        return body.status === 'processed' ? body : undefined;
      });
      const { body } = await getJson(`${url}/api/v1/events/evt-1`);
      const seen = body.deduplicated as {
        times: number;
        last_at: string;
        original: { accepted_at: string; partition: number; offset: number | null };
        window_ends_at: string;
      };
      assert.equal(seen.times, 1);
      assert.equal(
        Date.parse(seen.window_ends_at) - Date.parse(seen.original.accepted_at),
        WINDOW_MS,
      );
      assert.equal(typeof seen.original.partition, 'number');
      if (broker !== 'kafka') assert.equal(typeof seen.original.offset, 'number');

      // Accepted exactly one window ago: the window has ended, the id is new again.
      await backdate(platform, 'evt-1', WINDOW_MS);
      assert.equal(await send(url, 'evt-1'), false, 'at the end of the window');
      assert.equal(await send(url, 'evt-1'), true, 'the new acceptance opens a new window');
      await backdate(platform, 'evt-1', WINDOW_MS + 3_600_000);
      assert.equal(await send(url, 'evt-1'), false, 'past the window');
      // Each acceptance past the window went to the broker again: the worker's upsert on the id
      // kept the first processed row, so the event is stored (and counted) once.
      await eventually(async () =>
        (await platform.broker.lag('herald-processors')).every((p) => p.lag === 0)
          ? true
          : undefined,
      );
      assert.equal(await storedRows(platform, 'evt-1'), 1);
    });

    test('the window holds across a restart and across the log’s retention', async (t) => {
      const { start } = installation(t, broker);
      const first = await start();
      assert.equal(await send(first.url, 'evt-r'), false);
      await first.stop();

      const second = await start();
      assert.equal(await send(second.url, 'evt-r'), true, 'after a restart');
      await eventually(async () =>
        (await second.broker.lag('herald-processors')).every((p) => p.lag === 0) ? true : undefined,
      );
      // Retention runs past the event. Kafka and Redis cut it from their logs: the window is
      // kept apart. On Postgres, whose log rows are the window, the segment (closed first: they
      // go whole) stays until the window has passed.
      await second.broker.log.roll?.(0);
      const cut = await second.broker.log.prune(new Date(Date.now() + 60_000));
      if (broker === 'postgres') {
        assert.equal(cut.count, 0, 'kept for the window');
        assert.ok(cut.cutoff.getTime() <= Date.now() - WINDOW_MS);
      } else {
        assert.ok(cut.count > 0, `the log was cut: ${JSON.stringify(cut)}`);
      }
      assert.equal(await send(second.url, 'evt-r'), true, 'after retention ran');
      assert.equal(await storedRows(second, 'evt-r'), 1);
    });
  });
}

describe('the dedupe window on a broker that cannot tell duplicates', () => {
  const logger = createLogger('silent');
  const message = (id: string): OutgoingMessage => ({
    id,
    topic: 'analytics',
    key: 'u1',
    type: 'click',
    value: {},
    headers: {},
  });
  const openRedis = async (t: Cleanup) => {
    const redis = await RedisBroker.open({
      url: REDIS_URL,
      prefix: `herald-test-${randomBytes(5).toString('hex')}`,
      partitions: 1,
      leaseMs: 1000,
      pollMs: 10,
    });
    t.after(() => redis.close());
    return redis;
  };

  for (const database of DATABASES) {
    test(`a claim whose publish failed is never a duplicate: the retry is published [${database.kind}]`, async (t) => {
      const db = await database.open(t);
      const store = new PostgresDedupeStore(db);
      const redis = await openRedis(t);
      let failNext = true;
      const flaky = Object.create(redis) as RedisBroker;
      flaky.publish = async (messages) => {
        if (failNext) {
          failNext = false;
          throw new Error('broker unreachable');
        }
        return redis.publish(messages);
      };
      const broker = new DedupingBroker(flaky, store, logger, { windowMs: WINDOW_MS });
      await assert.rejects(broker.publish([message('x')]));
      const [retry] = await broker.publish([message('x')]);
      assert.equal(retry?.status, 'appended', 'the first attempt may not be in the broker');
      const [again] = await broker.publish([message('x')]);
      assert.equal(again?.status, 'duplicate', 'the retry was confirmed');
      const [within] = await broker.publish([message('y'), message('y')]);
      assert.equal(within?.status, 'appended');
    });
  }

  test('when the database cannot answer, events are published without the window (fail open)', async (t) => {
    const redis = await openRedis(t);
    const down: DedupeStore = {
      claim: () =>
        Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      lookup: () => Promise.resolve(undefined),
    };
    const hanging: DedupeStore = { claim: () => new Promise(() => {}), lookup: down.lookup };
    for (const store of [down, hanging]) {
      const broker = new DedupingBroker(redis, store, logger, {
        windowMs: WINDOW_MS,
        claimTimeoutMs: 100,
      });
      const results = await broker.publish([message('a'), message('a')]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['appended', 'appended'],
      );
    }
  });
});
