/**
 * The API is killed with SIGKILL while requests are in flight, at the moment PostgreSQL
 * acknowledges a commit that made events durable and before the 202s that would have said so. Clients retry with the same
 * Idempotency-Key against the restarted API: each key must end up as exactly one event, and
 * the retries of requests whose answer was lost must be told `duplicate: true`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import {
  assertDelivery,
  checkDelivery,
  DeliveryLog,
  waitForProcessed,
} from '../helpers/delivery-check.ts';
import { eventually } from '../helpers/eventually.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const LANES = 12;
const PER_LANE = 60;
const SLOW_LINK = { delayMs: 12 };
/** PostgreSQL's ReadyForQuery message outside a transaction: 'Z', length 5, status 'I'. */
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);

test('SIGKILL of the API between enqueue and response: a retry with the same Idempotency-Key yields exactly one event', async (t) => {
  const schema = uniqueSchema('herald_fault');
  t.after(() => dropSchema(schema));
  // The API reaches PostgreSQL over a slow link: the commit's acknowledgement takes ~25 ms to
  // come back, which widens the window in which an event is durable but not yet answered.
  const proxy = await TcpProxy.start(5432);
  t.after(() => proxy.close());
  proxy.setFaults(SLOW_LINK);
  const common = {
    DATABASE_SCHEMA: schema,
    WORKER_POLL_MS: '10',
    AGENTS_ENABLED: 'false',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const apiEnv = { ...common, DATABASE_URL: `postgresql://postgres@127.0.0.1:${proxy.port}/test` };
  let api = runHerald(t, ['api'], apiEnv);
  let url = await api.url;
  const worker = runHerald(t, ['worker'], { ...common, DATABASE_URL: POSTGRES_URL });
  await eventually(() => (worker.logs.some((l) => l.msg === 'worker started') ? true : undefined), {
    timeoutMs: 30_000,
  });

  const startedAt = performance.now();
  const log = new DeliveryLog();
  let answersLost = 0;
  let duplicatesAnswered = 0;
  const lane = async (laneIndex: number) => {
    const key = `api-kill-u${laneIndex}`;
    for (let seq = 0; seq < PER_LANE; seq++) {
      const idempotencyKey = `api-kill-${laneIndex}-${seq}`;
      log.recordSent(idempotencyKey, key, seq);
      for (let attempt = 0; ; attempt++) {
        try {
          const response = await fetch(`${url}/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
            body: JSON.stringify({ event_type: key, user_id: key, properties: { seq } }),
            signal: AbortSignal.timeout(10_000),
          });
          const body = (await response.json()) as { event_id?: string; duplicate?: boolean };
          if (response.status === 202) {
            assert.equal(body.event_id, idempotencyKey, 'the Idempotency-Key is the event id');
            log.acknowledge([idempotencyKey]);
            if (attempt > 0 && body.duplicate === true) duplicatesAnswered++;
            break;
          }
        } catch {
          if (attempt === 0) answersLost++;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** attempt, 400)));
      }
    }
  };
  const lanes = Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));

  // Kill the API mid-flight until some retry proved a lost answer was a stored event
  // (at least 3 kills, at most 10), restarting it each time.
  // Kill the API the moment PostgreSQL answers an append: the ids it stored (this test's
  // `api-kill-` keys) and ReadyForQuery with the transaction ended ('I'), so the events are
  // durable, the answer is still on the (slow) wire, and no 202 has been sent.
  let kills = 0;
  while (kills < 3) {
    const before = log.acknowledged.size;
    await eventually(() => (log.acknowledged.size >= before + 50 ? true : undefined), {
      timeoutMs: 60_000,
      message: 'traffic through the restarted API',
    });
    const victim = api;
    proxy.tap((direction, chunk) => {
      if (direction === 'down' && chunk.includes('api-kill-') && chunk.includes(READY_IDLE)) {
        proxy.tap(undefined);
        victim.child.kill('SIGKILL');
      }
      return false;
    });
    await victim.exited;
    kills++;
    // The slow link only while serving: a restart's migrations and checks go at full speed.
    proxy.setFaults({});
    api = runHerald(t, ['api'], apiEnv);
    url = await api.url;
    if (kills < 3) proxy.setFaults(SLOW_LINK);
  }
  const killsDoneAt = performance.now();
  await lanes;

  const sentAt = performance.now();
  await waitForProcessed({
    databaseUrl: POSTGRES_URL,
    schema,
    expected: LANES * PER_LANE,
    timeoutMs: 60_000,
  });
  const report = await checkDelivery(log, { databaseUrl: POSTGRES_URL, schema });
  t.diagnostic(
    `kills ${kills} (${Math.round(killsDoneAt - startedAt)} ms), rest sent in ${Math.round(sentAt - killsDoneAt)} ms, ` +
      `processed ${Math.round(performance.now() - sentAt)} ms later; requests without an answer ${answersLost}, ` +
      `retries answered duplicate ${duplicatesAnswered}`,
  );
  assertDelivery(report, { minAcknowledged: LANES * PER_LANE });
  assert.equal(report.unacknowledgedPersisted, 0, 'no event exists that no key asked for');

  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  t.after(() => client.end());
  const { rows } = await client.query<{ n: number; ids: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS ids
     FROM ${schema}.raw_events WHERE generation = 0`,
  );
  assert.deepEqual(
    rows[0],
    { n: LANES * PER_LANE, ids: LANES * PER_LANE },
    'one log entry per key',
  );
  assert.ok(answersLost > 0, 'requests were in flight when the API died');
  assert.ok(
    duplicatesAnswered > 0,
    'some request was made durable but its answer lost; its retry was recognised',
  );
});
