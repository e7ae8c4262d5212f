/**
 * The unchanged pipeline over each broker, through the real CLI: `herald api` and `herald
 * worker` processes on server PostgreSQL, with BROKER=postgres|redis|kafka. Each run has its own
 * schema and its own broker namespace (Redis keys, Kafka topics and groups).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import pg from 'pg';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { type HeraldProcess, runHerald } from '../helpers/herald-process.ts';
import { type Cleanup, getJson, postJson, SEED_EXAMPLES } from '../helpers/platform.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KAFKA_BROKERS = process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092';

const BROKERS: Record<string, Record<string, string>> = {
  postgres: { BROKER: 'postgres' },
  redis: { BROKER: 'redis', REDIS_URL },
  kafka: { BROKER: 'kafka', KAFKA_BROKERS, KAFKA_SESSION_TIMEOUT_MS: '6000' },
};

function environment(t: Cleanup, broker: string): Record<string, string> {
  const schema = uniqueSchema('herald_e2e');
  t.after(() => dropSchema(schema));
  return {
    ...BROKERS[broker],
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    BROKER_NAMESPACE: `herald-e2e-${randomBytes(4).toString('hex')}`,
    QUEUE_PARTITIONS: '4',
    WORKER_POLL_MS: '20',
    WORKER_LEASE_MS: '3000',
    AGENTS_ENABLED: 'false',
  };
}

async function started(worker: HeraldProcess): Promise<void> {
  await eventually(() => (worker.logs.some((l) => l.msg === 'worker started') ? true : undefined), {
    timeoutMs: 30_000,
    message: 'worker started',
  });
}

for (const broker of Object.keys(BROKERS)) {
  describe(`end to end over ${broker}`, () => {
    test('api and workers process the seed examples and a stream of events exactly once, in key order, while a third worker joins', async (t) => {
      const env = environment(t, broker);
      const api = runHerald(t, ['api'], env);
      const url = await api.url;
      const workers = [runHerald(t, ['worker'], env), runHerald(t, ['worker'], env)];
      for (const worker of workers) await started(worker);

      const seeds: string[] = [];
      for (const example of SEED_EXAMPLES) {
        const response = await postJson(url + example.path, example.body);
        assert.equal(response.status, 202, JSON.stringify(response.body));
        seeds.push(response.body.event_id as string);
      }
      for (const id of seeds) {
        await eventually(
          async () =>
            (await getJson(`${url}/api/v1/events/${id}`)).body.status === 'processed'
              ? true
              : undefined,
          { timeoutMs: 30_000, message: `${id} processed over ${broker}` },
        );
      }

      // A stream with a sequence number per key; a third worker joins halfway.
      const keys = 40;
      const batches = 12;
      const acknowledged = new Set<string>(seeds);
      for (let b = 0; b < batches; b++) {
        if (b === batches / 2) workers.push(runHerald(t, ['worker'], env));
        const events = Array.from({ length: 200 }, (_, i) => {
          const n = b * 200 + i;
          return {
            id: `${broker}-${n}`,
            event_type: 'click',
            user_id: `user-${n % keys}`,
            properties: { seq: Math.floor(n / keys) },
          };
        });
        const response = await postJson(`${url}/api/v1/events/batch`, events);
        assert.equal(response.status, 202, JSON.stringify(response.body));
        for (const r of response.body.results as { event_id: string }[]) {
          acknowledged.add(r.event_id);
        }
      }

      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      t.after(() => client.end());
      const table = `${env.DATABASE_SCHEMA}.processed_events`;
      await eventually(
        async () => {
          const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
          return rows[0].n >= acknowledged.size ? true : undefined;
        },
        { timeoutMs: 60_000, message: `${acknowledged.size} events processed over ${broker}` },
      );

      const { rows } = await client.query(
        `SELECT event_id, user_id, (payload->'properties'->>'seq')::int AS seq, processed_at
         FROM ${table} ORDER BY user_id, seq`,
      );
      const persisted = rows.map((r) => r.event_id as string);
      assert.equal(new Set(persisted).size, persisted.length, 'no event persisted twice');
      const stored = new Set(persisted);
      const lost = [...acknowledged].filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], 'acknowledged − persisted is empty');
      assert.equal(persisted.length, acknowledged.size, 'nothing persisted beyond what was acked');
      // Per-key order: a key's later event is never processed before an earlier one.
      for (let i = 1; i < rows.length; i++) {
        const [before, after] = [rows[i - 1], rows[i]];
        if (before.seq === null || after.seq === null || before.user_id !== after.user_id) continue;
        assert.ok(
          (before.processed_at as Date) <= (after.processed_at as Date),
          `${after.user_id}: seq ${after.seq} was processed before seq ${before.seq}`,
        );
      }
      const failed = await client.query(
        `SELECT count(*)::int AS n FROM ${env.DATABASE_SCHEMA}.failed_events`,
      );
      assert.equal(failed.rows[0].n, 0, 'nothing failed');

      const summary = await getJson(`${url}/metrics/summary`);
      assert.equal(summary.body.processed, acknowledged.size);
      for (const worker of workers) {
        await started(worker);
        assert.equal(await worker.stop('SIGTERM'), 0);
      }
      assert.equal(await api.stop('SIGTERM'), 0);
    });
  });
}

test('while Redis is unreachable the API answers 503 with Retry-After, and 202 again once it is back', async (t) => {
  const proxy = await TcpProxy.start(Number(new URL(REDIS_URL).port || 6379));
  t.after(() => proxy.close());
  const env = {
    ...environment(t, 'redis'),
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
  };
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const event = (id: string) => ({ id, event_type: 'click', user_id: 'u1' });
  assert.equal((await postJson(`${url}/events`, event('before'))).status, 202);

  proxy.cut();
  const refused = await fetch(`${url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(event('during')),
  });
  assert.equal(refused.status, 503);
  assert.ok(refused.headers.get('retry-after'), 'a 503 says when to retry');
  assert.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const ready = await getJson(`${url}/health/ready`);
  assert.equal(ready.status, 503, 'not ready while the broker is unreachable');

  proxy.restore();
  await eventually(
    async () =>
      (await postJson(`${url}/events`, event('after'))).status === 202 ? true : undefined,
    { timeoutMs: 20_000, message: 'accepting again after Redis is back' },
  );
  assert.equal(await api.stop('SIGTERM'), 0);
});
