import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { LogNotifier } from '../../../src/adapters/notify/log/sender.ts';
import { SmtpEmailSender } from '../../../src/adapters/notify/smtp/sender.ts';
import { SignedWebhookSender } from '../../../src/adapters/notify/webhook/sender.ts';
import { TargetGuard } from '../../../src/adapters/notify/webhook/target-guard.ts';
import { migrate } from '../../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../../src/adapters/postgres/server.ts';
import { PostgresNotificationStore } from '../../../src/adapters/store/postgres/notifications.ts';
import {
  type DispatcherOptions,
  NotificationDispatcher,
} from '../../../src/app/notifications/dispatcher.ts';
import { WebhookEndpoints } from '../../../src/app/notifications/webhook-endpoints.ts';
import { uuidv7 } from '../../../src/domain/ids.ts';
import { ErrorCodes, HeraldError } from '../../../src/errors.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import type { Database } from '../../../src/ports/database.ts';
import { DATABASES, dropSchema, POSTGRES_URL, uniqueSchema } from '../../helpers/databases.ts';
import { eventually } from '../../helpers/eventually.ts';
import { type FakeHttp, startFakeHttp, status } from '../../helpers/fake-http.ts';
import { counted, notificationCounter } from '../../helpers/notifications.ts';
import type { Cleanup } from '../../helpers/platform.ts';
import { startSmtpServer } from '../../helpers/smtp-server.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';

const postgres = DATABASES.find((d) => d.kind === 'postgres');
const logger = createLogger('silent');

const OPTIONS: DispatcherOptions = {
  pollMs: 10,
  timeoutMs: 1000,
  leaseMs: 5000,
  batchSize: 10,
  retry: { baseMs: 100, maxMs: 400 },
  maxAttempts: 5,
  webhookDisable: { afterFailures: 1000, afterMs: 0 },
  messageIdDomain: 'herald.test',
};

interface Setup {
  db: Database;
  store: PostgresNotificationStore;
  endpoints: WebhookEndpoints;
  metrics: ReturnType<typeof notificationCounter>;
  receiver: FakeHttp;
  dispatcher: NotificationDispatcher;
  /** Creates an endpoint on the receiver and records one webhook delivery to it. */
  deliverOne(eventId?: string): Promise<{ deliveryId: string; endpointId: string; secret: string }>;
}

async function setup(
  t: Cleanup & Parameters<NonNullable<typeof postgres>['open']>[0],
  options: Partial<DispatcherOptions> = {},
): Promise<Setup> {
  assert.ok(postgres);
  const db = await postgres.open(t);
  const store = new PostgresNotificationStore(db);
  const guard = new TargetGuard({ allow: ['127.0.0.1'] });
  const endpoints = new WebhookEndpoints(store, guard, { rotationMs: 60_000 });
  const metrics = notificationCounter();
  const receiver = await startFakeHttp(t, status(200));
  const dispatcher = new NotificationDispatcher(
    store,
    { email: new LogNotifier(logger), webhook: new SignedWebhookSender(guard) },
    metrics,
    logger,
    { ...OPTIONS, ...options },
  );
  t.after(() => dispatcher.stop());
  let endpoint: { id: string; secret: string } | undefined;
  const deliverOne = async (eventId = uuidv7()) => {
    if (endpoint === undefined) {
      const created = await endpoints.create({ url: `${receiver.url}/hook`, eventTypes: ['*'] });
      endpoint = { id: created.endpoint.id, secret: created.secret };
    }
    const id = uuidv7();
    await store.recordDeliveries([
      {
        id,
        eventId,
        eventType: 'user.created',
        channel: 'webhook',
        recipient: endpoint.id,
        userId: null,
        endpointId: endpoint.id,
        payload: { body: JSON.stringify({ type: 'user.created', data: { n: 1 } }) },
        status: 'pending',
      },
    ]);
    return { deliveryId: id, endpointId: endpoint.id, secret: endpoint.secret };
  };
  return { db, store, endpoints, metrics, receiver, dispatcher, deliverOne };
}

const headersOf = (h: Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));

test('a failing webhook is retried with growing, jittered delays until it succeeds; every attempt is logged and signed', async (t) => {
  const s = await setup(t);
  s.receiver.script(status(503), status(500), status(502));
  const { deliveryId, secret } = await s.deliverOne('evt-retry');
  s.dispatcher.start();
  const sent = await eventually(
    async () => {
      const d = await s.store.getDelivery(deliveryId);
      return d?.status === 'sent' ? d : undefined;
    },
    { message: 'delivery sent' },
  );
  assert.equal(sent.attempts, 4);
  assert.deepEqual(
    sent.attemptLog.map((a) => [a.outcome, a.statusCode]),
    [
      ['retryable', 503],
      ['retryable', 500],
      ['retryable', 502],
      ['sent', 200],
    ],
  );
  const times = s.receiver.requests.map((r) => r.at);
  const gaps = times.slice(1).map((at, i) => at - (times[i] ?? 0));
  // Equal jitter: the n-th delay is in [base·2^(n−1)/2, base·2^(n−1)], capped at 400.
  assert.ok((gaps[0] ?? 0) >= 50, `first gap ${gaps[0]}`);
  assert.ok((gaps[1] ?? 0) >= 100, `second gap ${gaps[1]}`);
  assert.ok((gaps[2] ?? 0) >= 200, `third gap ${gaps[2]}`);
  for (const request of s.receiver.requests) {
    assert.equal(request.headers['webhook-id'], 'evt-retry', 'the same id on every attempt');
    new Webhook(secret).verify(request.text, headersOf(request.headers));
  }
  assert.equal(await counted(s.metrics, 'webhook', 'retrying'), 3);
  assert.equal(await counted(s.metrics, 'webhook', 'sent'), 1);
});

test("a 429's Retry-After is honoured before the next attempt", async (t) => {
  const s = await setup(t);
  s.receiver.script(status(429, { 'retry-after': '1' }));
  const { deliveryId } = await s.deliverOne();
  s.dispatcher.start();
  await eventually(async () =>
    (await s.store.getDelivery(deliveryId))?.status === 'sent' ? true : undefined,
  );
  const [first, second] = s.receiver.requests.map((r) => r.at);
  assert.ok((second ?? 0) - (first ?? 0) >= 950, `waited ${(second ?? 0) - (first ?? 0)} ms`);
});

test('retries stop at the attempt limit (failed); a 4xx fails at once', async (t) => {
  const s = await setup(t, { maxAttempts: 3, retry: { baseMs: 10, maxMs: 20 } });
  s.receiver.setDefault(status(500));
  const { deliveryId } = await s.deliverOne();
  s.dispatcher.start();
  const failed = await eventually(async () => {
    const d = await s.store.getDelivery(deliveryId);
    return d?.status === 'failed' ? d : undefined;
  });
  assert.equal(failed.attempts, 3);
  assert.match(failed.lastError ?? '', /gave up after 3 attempts/);
  assert.equal(s.receiver.requests.length, 3);

  s.receiver.setDefault(status(410, {}, 'gone'));
  const second = await s.deliverOne();
  s.dispatcher.wake();
  const permanent = await eventually(async () => {
    const d = await s.store.getDelivery(second.deliveryId);
    return d?.status === 'failed' ? d : undefined;
  });
  assert.equal(permanent.attempts, 1);
  assert.deepEqual(
    permanent.attemptLog.map((a) => a.outcome),
    ['permanent'],
  );
});

test('an endpoint failing without respite is disabled; its later deliveries fail without being sent', async (t) => {
  const s = await setup(t, {
    maxAttempts: 1,
    webhookDisable: { afterFailures: 3, afterMs: 0 },
  });
  s.receiver.setDefault(status(503));
  const first = await s.deliverOne();
  for (let i = 0; i < 2; i++) await s.deliverOne();
  await s.dispatcher.runOnce();
  const endpoint = await s.endpoints.get(first.endpointId);
  assert.ok(endpoint.disabledAt, 'disabled');
  assert.match(endpoint.disabledReason ?? '', /3 times in a row/);
  assert.equal(s.receiver.requests.length, 3);

  const later = await s.deliverOne();
  await s.dispatcher.runOnce();
  const d = await s.store.getDelivery(later.deliveryId);
  assert.equal(d?.status, 'failed');
  assert.match(d?.lastError ?? '', /disabled/);
  assert.equal(s.receiver.requests.length, 3, 'nothing sent to a disabled endpoint');

  // Re-enabled, it receives again.
  s.receiver.setDefault(status(200));
  await s.endpoints.update(first.endpointId, { enabled: true });
  const again = await s.deliverOne();
  await s.dispatcher.runOnce();
  assert.equal((await s.store.getDelivery(again.deliveryId))?.status, 'sent');
});

test('after a secret rotation, messages are signed with the new and the previous secret', async (t) => {
  const s = await setup(t);
  const first = await s.deliverOne();
  const rotated = await s.endpoints.rotateSecret(first.endpointId);
  await s.dispatcher.runOnce();
  const request = s.receiver.requests[0];
  assert.ok(request);
  assert.equal(String(request.headers['webhook-signature']).split(' ').length, 2);
  new Webhook(rotated.secret).verify(request.text, headersOf(request.headers));
  new Webhook(first.secret).verify(request.text, headersOf(request.headers));
  // Once the grace period is over, the old secret no longer signs.
  await s.db.query(
    `UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'`,
  );
  await s.deliverOne();
  await s.dispatcher.runOnce();
  const later = s.receiver.requests[1];
  assert.ok(later);
  new Webhook(rotated.secret).verify(later.text, headersOf(later.headers));
  assert.throws(() => new Webhook(first.secret).verify(later.text, headersOf(later.headers)));
});

test('dispatchers in two processes share the due deliveries: each is sent once', async (t) => {
  const s = await setup(t);
  const other = new NotificationDispatcher(
    s.store,
    {
      email: new LogNotifier(logger),
      webhook: new SignedWebhookSender(new TargetGuard({ allow: ['127.0.0.1'] })),
    },
    s.metrics,
    logger,
    { ...OPTIONS, batchSize: 3 },
  );
  s.receiver.setDefault({ kind: 'status', status: 200 });
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await s.deliverOne(`evt-${i}`)).deliveryId);
  await Promise.all([
    s.dispatcher.runOnce(),
    other.runOnce(),
    s.dispatcher.runOnce(),
    other.runOnce(),
  ]);
  while ((await s.dispatcher.runOnce()) > 0);
  const seen = s.receiver.requests.map((r) => String(r.headers['webhook-id']));
  assert.equal(seen.length, 20);
  assert.equal(new Set(seen).size, 20, 'no event sent twice');
});

test('a graceful stop waits for the attempt in flight and records its outcome', async (t) => {
  const s = await setup(t, { timeoutMs: 400, leaseMs: 5000 });
  s.receiver.script({ kind: 'hang' });
  const { deliveryId } = await s.deliverOne();
  s.dispatcher.start();
  await eventually(() => (s.receiver.requests.length > 0 ? true : undefined));
  await s.dispatcher.stop();
  const d = await s.store.getDelivery(deliveryId);
  assert.equal(d?.status, 'retrying', 'recorded, not left leased');
  assert.deepEqual(
    d?.attemptLog.map((a) => a.outcome),
    ['retryable'],
  );
  assert.match(d?.lastError ?? '', /timed out/);
});

test('a lease no longer than an attempt is refused at start', () => {
  assert.throws(
    () =>
      new NotificationDispatcher(
        {} as PostgresNotificationStore,
        { email: new LogNotifier(logger), webhook: {} as SignedWebhookSender },
        notificationCounter(),
        logger,
        { ...OPTIONS, leaseMs: 1000, timeoutMs: 1000 },
      ),
    (e: unknown) =>
      e instanceof HeraldError &&
      e.code === ErrorCodes.CONFIG_INVALID &&
      /NOTIFY_LEASE_MS/.test(e.message),
  );
});

// The one window where a notification can go out twice, shown rather than hidden: the provider
// accepted the message and the outcome could not be recorded (the process died, or here the
// database became unreachable). The lease expires and the message is sent again — at least
// once — carrying the same Message-ID, which is what receivers deduplicate on.
test('accepted by the SMTP server but not recorded (database lost): sent again after the lease, with the same Message-ID', async (t) => {
  const schema = uniqueSchema();
  t.after(() => dropSchema(schema));
  const direct = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 2 });
  t.after(() => direct.close());
  await migrate(direct);
  const proxy = await TcpProxy.start(5432);
  t.after(() => proxy.close());
  const viaProxy = await openPostgres({
    url: `postgresql://postgres@127.0.0.1:${proxy.port}/test`,
    schema,
    poolSize: 2,
  });
  t.after(() => viaProxy.close());

  const smtp = await startSmtpServer(t);
  // The database goes away between the server's acceptance and the dispatcher's record.
  smtp.script({ kind: 'accept', before: () => proxy.cut() });
  const store = new PostgresNotificationStore(viaProxy);
  const id = uuidv7();
  await new PostgresNotificationStore(direct).recordDeliveries([
    {
      id,
      eventId: 'evt-1',
      eventType: 'user.created',
      channel: 'email',
      recipient: 'ada@example.com',
      userId: null,
      endpointId: null,
      payload: { subject: 'Welcome', text: 'Hello' },
      status: 'pending',
    },
  ]);
  const dispatcher = new NotificationDispatcher(
    store,
    {
      email: new SmtpEmailSender({ url: smtp.url, from: 'no-reply@herald.test', timeoutMs: 2000 }),
      webhook: new SignedWebhookSender(new TargetGuard({ allow: [] })),
    },
    notificationCounter(),
    createLogger('silent'),
    {
      pollMs: 20,
      timeoutMs: 2000,
      leaseMs: 2500,
      batchSize: 10,
      retry: { baseMs: 10, maxMs: 20 },
      maxAttempts: 5,
      webhookDisable: { afterFailures: 10, afterMs: 0 },
      messageIdDomain: 'herald.test',
    },
  );
  dispatcher.start();
  t.after(() => dispatcher.stop());
  await eventually(() => (smtp.accepted.length === 1 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 200));
  proxy.restore();

  const delivery = await eventually(
    async () => {
      const d = await new PostgresNotificationStore(direct).getDelivery(id);
      return d?.status === 'sent' ? d : undefined;
    },
    { timeoutMs: 15_000, message: 'the delivery recorded as sent' },
  );
  assert.equal(smtp.accepted.length, 2, 'at least once: the unrecorded send is repeated');
  assert.deepEqual(
    smtp.accepted.map((m) => m.messageId),
    [`<${id}@herald.test>`, `<${id}@herald.test>`],
    'both copies are one message to a receiver that deduplicates on Message-ID',
  );
  assert.deepEqual(
    delivery.attemptLog.map((a) => a.outcome),
    ['interrupted', 'sent'],
  );
});
