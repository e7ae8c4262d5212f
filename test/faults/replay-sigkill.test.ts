/**
 * A replay killed mid-way resumes without sending anything twice: a webhook backfill runs in a
 * real `herald worker` that is SIGKILLed while it is half done; another worker takes the
 * replay over once the dead one's lease runs out and goes on from the last committed cursor.
 * Each event is delivered once, with its own id as webhook-id, and the replay's counts add up.
 * The dead worker does not dispatch (NOTIFICATIONS_ENABLED=false): this is the replay's
 * guarantee, not the dispatcher's at-least-once window (a send whose answer a kill cuts off).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { startFakeHttp, status } from '../helpers/fake-http.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { getJson, postJson } from '../helpers/platform.ts';

test('a webhook backfill whose worker is SIGKILLed mid-way is resumed by another and delivers every event once', async (t) => {
  const schema = uniqueSchema('herald_replay_kill');
  t.after(() => (process.env.HERALD_KEEP_TEST_DATA === undefined ? dropSchema(schema) : undefined));
  const receiver = await startFakeHttp(t, status(204));
  const env = {
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    BROKER: 'postgres',
    AGENTS_ENABLED: 'false',
    NOTIFICATIONS_ENABLED: 'false',
    WORKER_POLL_MS: '10',
    WORKER_LEASE_MS: '1500',
    REPLAY_POLL_MS: '20',
    NOTIFY_POLL_MS: '20',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: '127.0.0.1',
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  };
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const first = runHerald(t, ['worker'], env);

  const total = 200;
  const ids = Array.from({ length: total }, (_, i) => `evt-${String(i).padStart(3, '0')}`);
  const from = new Date(Date.now() - 60_000).toISOString();
  const accepted = await postJson(
    `${url}/api/v1/events/batch`,
    ids.map((id, i) => ({ id, user_id: `u${i % 7}`, event_type: 'click' })),
  );
  assert.equal(accepted.status, 202);
  await eventually(
    async () =>
      (await getJson(`${url}/metrics/summary`)).body.processed === total ? true : undefined,
    { timeoutMs: 60_000, message: 'the events processed' },
  );
  const endpoint = await postJson(`${url}/api/v1/notifications/webhooks`, {
    url: `${receiver.url}/hook`,
    event_types: ['click'],
  });
  assert.equal(endpoint.status, 201);
  // 40 events a second: five seconds of work, killed after one.
  const created = await postJson(`${url}/api/v1/replays`, {
    target: 'webhook',
    endpoint_id: endpoint.body.id,
    from,
    topics: ['analytics'],
    rate: 40,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  const progressOf = async () =>
    (await getJson(`${url}/api/v1/replays/${id}`)).body as {
      status: string;
      progress: { read: number; outcomes: Record<string, number> };
    };
  await eventually(async () => ((await progressOf()).progress.read >= 40 ? true : undefined), {
    timeoutMs: 30_000,
    message: 'the replay under way',
  });
  await first.stop('SIGKILL');
  const atKill = (await progressOf()).progress.read;
  assert.ok(atKill < total, `killed mid-way (${atKill} of ${total} read)`);

  // The heir dispatches too: what the dead one recorded but never sent goes out now, once.
  runHerald(t, ['worker'], { ...env, NOTIFICATIONS_ENABLED: 'true' });
  const done = await eventually(
    async () => {
      const r = await progressOf();
      return r.status === 'completed' ? r : undefined;
    },
    { timeoutMs: 60_000, message: 'the replay completed by the second worker' },
  );
  assert.deepEqual(done.progress.outcomes, { delivery_queued: total });
  await eventually(() => (receiver.requests.length >= total ? true : undefined), {
    timeoutMs: 30_000,
    message: 'every delivery sent',
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const webhook = new Webhook(endpoint.body.secret as string);
  const received = receiver.requests.map((request) => {
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([k, v]) => [k, String(v)]),
    );
    webhook.verify(request.text, headers);
    return headers['webhook-id'] ?? '';
  });
  assert.equal(received.length, total, 'nothing was sent twice');
  assert.deepEqual([...received].sort(), ids);
});
