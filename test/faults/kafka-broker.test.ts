/**
 * Faults on the Kafka transport, on a broker of this file's own (scripts/kafka.sh on free
 * ports, so the shared broker on 9092 is never touched): workers killed with SIGKILL again and
 * again (their partitions move to the survivors after the session timeout), and the broker
 * itself stopped and restarted mid-run. Producers use acks=all with idempotence, so a 202 means
 * the event is in the partition leader's log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import {
  acknowledgedAtLeast,
  assertRefusalsAre503,
  finishAndCheck,
  killWorkersWhileLoading,
  startCluster,
} from '../helpers/fault-scenarios.ts';
import { OwnKafka } from '../helpers/own-kafka.ts';

describe('Kafka faults', () => {
  let kafka: OwnKafka;
  before(async () => {
    kafka = await OwnKafka.start();
  });
  after(() => kafka?.destroy());

  function setUp(t: test.TestContext) {
    const schema = uniqueSchema('herald_fault');
    t.after(() => dropSchema(schema));
    const env = {
      BROKER: 'kafka',
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      BROKER_NAMESPACE: schema,
      QUEUE_PARTITIONS: '4',
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
      WORKER_POLL_MS: '10',
      WORKER_BATCH_SIZE: '200',
      WORKER_CONCURRENCY: '4',
      AGENTS_ENABLED: 'false',
      OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
    };
    return { schema, env };
  }

  test('SIGKILL of workers under load on Kafka: nothing lost, nothing twice, per-key order kept', async (t) => {
    const { schema, env } = setUp(t);
    const total = 6000;
    const run = await startCluster(t, env, { total, runId: 'kk' });
    const kills = await killWorkersWhileLoading(t, env, run, { everyMs: 3000, minKills: 2 });
    await finishAndCheck(
      t,
      run,
      { databaseUrl: POSTGRES_URL, schema },
      {
        minAcknowledged: total,
        note: `${kills} workers killed`,
        drainMs: 90_000,
      },
    );
    assert.ok(kills >= 2);
  });

  test('the Kafka broker stopped and restarted mid-run: every acknowledged event is processed once', async (t) => {
    const { schema, env } = setUp(t);
    const total = 4000;
    const run = await startCluster(t, env, { total, runId: 'kr' });
    await acknowledgedAtLeast(run.load, 1000, 'load flowing before the restart');
    await kafka.stop();
    await kafka.restart();
    const report = await finishAndCheck(
      t,
      run,
      { databaseUrl: POSTGRES_URL, schema },
      {
        minAcknowledged: total,
        note: `refusals ${JSON.stringify(Object.fromEntries(run.load.stats.refused))}`,
        drainMs: 90_000,
      },
    );
    assert.ok(report.acknowledged >= total);
    assertRefusalsAre503(run.load);
  });
});
