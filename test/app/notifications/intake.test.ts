import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { PostgresNotificationStore } from '../../../src/adapters/store/postgres/notifications.ts';
import { NotificationIntake } from '../../../src/app/notifications/intake.ts';
import { uuidv7 } from '../../../src/domain/ids.ts';
import { USERS_TOPIC, type User, userEventView } from '../../../src/domain/users.ts';
import type { DeliveredMessage } from '../../../src/ports/broker.ts';
import type { Database } from '../../../src/ports/database.ts';
import { DATABASES } from '../../helpers/databases.ts';
import { counted, notificationCounter } from '../../helpers/notifications.ts';

const postgres = DATABASES.find((d) => d.kind === 'postgres');

async function open(t: TestContext) {
  assert.ok(postgres);
  const db = await postgres.open(t);
  const store = new PostgresNotificationStore(db);
  return { db, store };
}

async function insertUser(db: Database, overrides: Partial<User> = {}): Promise<User> {
  const id = uuidv7();
  const user: User = {
    id,
    username: `ada_${id.slice(-6)}`,
    email: `ada_${id.slice(-6)}@example.com`,
    fullName: 'Ada Lovelace',
    age: null,
    phone: '+15551230000',
    role: 'user',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    ...overrides,
  };
  await db.query(
    `INSERT INTO users (id, username, email, full_name, phone, role, password_hash)
     VALUES ($1, $2, $3, $4, $5, $6, 'x')`,
    [user.id, user.username, user.email, user.fullName, user.phone, user.role],
  );
  return user;
}

let offset = 0;
function message(topic: string, type: string, value: Record<string, unknown>): DeliveredMessage {
  return {
    id: uuidv7(),
    topic,
    key: 'k',
    type,
    value,
    headers: {},
    partition: 0,
    offset: offset++,
    acceptedAt: new Date('2026-01-02T03:04:05Z'),
    generation: 0,
  };
}

/** As the user service publishes it. */
const userEvent = (type: string, user: User) =>
  message(USERS_TOPIC, type, {
    event_id: 'x',
    type,
    occurred_at: 'now',
    user: userEventView(user),
  });

test('user.created becomes an email, an SMS and a push per subscription, rendered from the templates', async (t) => {
  const { db, store } = await open(t);
  const user = await insertUser(db);
  await store.addPushSubscription({
    id: 'sub-1',
    userId: user.id,
    endpoint: 'https://push.example/sub-1',
    keys: { p256dh: 'p', auth: 'a' },
  });
  const intake = new NotificationIntake(store, notificationCounter(), { sms: true, push: true });
  const event = userEvent('user.created', user);
  assert.equal((await intake.accept([event])).length, 3);
  const deliveries = await store.listDeliveries({ limit: 10, eventId: event.id });
  const byChannel = Object.fromEntries(deliveries.map((d) => [d.channel, d]));
  assert.equal(byChannel.email?.recipient, user.email);
  assert.equal(byChannel.email?.payload.subject, 'Welcome to Herald');
  assert.match(String(byChannel.email?.payload.text), /Ada Lovelace/);
  assert.equal(byChannel.sms?.recipient, '+15551230000');
  assert.match(String(byChannel.sms?.payload.body), /Welcome to Herald/);
  assert.equal(byChannel.push?.recipient, 'sub-1');
  assert.deepEqual(byChannel.push?.payload.subscription, {
    endpoint: 'https://push.example/sub-1',
    keys: { p256dh: 'p', auth: 'a' },
  });
  assert.ok(deliveries.every((d) => d.status === 'pending' && d.userId === user.id));
});

test('the same event delivered again by the broker adds no delivery', async (t) => {
  const { db, store } = await open(t);
  const user = await insertUser(db);
  const intake = new NotificationIntake(store, notificationCounter(), { sms: false, push: false });
  const event = userEvent('user.created', user);
  assert.equal((await intake.accept([event])).length, 1);
  assert.equal((await intake.accept([event])).length, 0);
  assert.equal((await intake.accept([{ ...event, offset: 99, generation: 1 }])).length, 0);
  assert.equal((await store.listDeliveries({ limit: 10 })).length, 1);
});

test('a channel the user turned off is recorded as skipped, and not sent; channels without a provider get nothing', async (t) => {
  const { db, store } = await open(t);
  const user = await insertUser(db);
  await db.query(
    `INSERT INTO notification_preferences (user_id, channel, enabled) VALUES ($1, 'email', false), ($1, 'sms', true)`,
    [user.id],
  );
  const metrics = notificationCounter();
  const intake = new NotificationIntake(store, metrics, { sms: true, push: false });
  await intake.accept([userEvent('user.created', user)]);
  const deliveries = await store.listDeliveries({ limit: 10 });
  assert.deepEqual(deliveries.map((d) => [d.channel, d.status, d.lastError]).sort(), [
    ['email', 'skipped', 'the user turned email notifications off'],
    ['sms', 'pending', null],
  ]);
  assert.deepEqual(await store.claimDue(10, 60_000).then((c) => c.map((d) => d.channel)), ['sms']);
  assert.equal(await counted(metrics, 'email', 'skipped'), 1);
});

test('user.deleted sends a goodbye email (the user row is gone by then); no SMS template, no SMS', async (t) => {
  const { store } = await open(t);
  const ghost: User = {
    id: 'gone',
    username: 'ghost',
    email: 'ghost@example.com',
    fullName: null,
    age: null,
    phone: '+1555',
    role: 'user',
    createdAt: '',
    updatedAt: '',
  };
  const intake = new NotificationIntake(store, notificationCounter(), { sms: true, push: true });
  await intake.accept([userEvent('user.deleted', ghost)]);
  const deliveries = await store.listDeliveries({ limit: 10 });
  assert.deepEqual(
    deliveries.map((d) => [d.channel, d.recipient, d.payload.subject]),
    [['email', 'ghost@example.com', 'Your Herald account was deleted']],
  );
});

test('webhook endpoints receive the event types they subscribed to; disabled ones receive nothing', async (t) => {
  const { db, store } = await open(t);
  const user = await insertUser(db);
  const endpoint = (eventTypes: string[]) =>
    store.createEndpoint({
      id: uuidv7(),
      url: 'https://hooks.example/x',
      description: null,
      eventTypes,
      secret: 'whsec_x',
    });
  const users = await endpoint(['user.*']);
  const created = await endpoint(['user.created']);
  const views = await endpoint(['page_view']);
  const off = await endpoint(['*']);
  await store.updateEndpoint(off.id, { enabled: false, disabledReason: 'test' });
  const intake = new NotificationIntake(store, notificationCounter(), { sms: false, push: false });
  const updated = userEvent('user.updated', user);
  const pageView = message('analytics', 'page_view', { user_id: 'x', page: '/' });
  await intake.accept([updated, pageView]);
  const hooks = await store.listDeliveries({ limit: 20, channel: 'webhook' });
  const pairs = hooks.map((d) => [d.eventType, d.endpointId]).sort();
  assert.deepEqual(
    pairs,
    [
      ['page_view', views.id],
      ['user.updated', users.id],
    ].sort(),
  );
  assert.ok(!hooks.some((d) => d.endpointId === created.id || d.endpointId === off.id));
  const body = JSON.parse(String(hooks.find((d) => d.eventType === 'page_view')?.payload.body));
  assert.deepEqual(body, {
    type: 'page_view',
    timestamp: '2026-01-02T03:04:05.000Z',
    data: { user_id: 'x', page: '/' },
  });
  // Only user events reach people: the page view made no email.
  assert.deepEqual(
    (await store.listDeliveries({ limit: 20, channel: 'email' })).map((d) => d.eventType),
    ['user.updated'],
  );
});
