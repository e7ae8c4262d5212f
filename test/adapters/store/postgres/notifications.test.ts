import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresNotificationStore } from '../../../../src/adapters/store/postgres/notifications.ts';
import { uuidv7 } from '../../../../src/domain/ids.ts';
import type { Database } from '../../../../src/ports/database.ts';
import type { NewDelivery } from '../../../../src/ports/notification-store.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';
import { notificationTestDatabase } from '../../../helpers/notifications.ts';

function delivery(overrides: Partial<NewDelivery> = {}): NewDelivery {
  return {
    id: uuidv7(),
    eventId: 'evt-1',
    eventType: 'user.created',
    channel: 'email',
    recipient: 'ada@example.com',
    userId: 'u1',
    endpointId: null,
    payload: { subject: 'Welcome', text: 'Hi' },
    status: 'pending',
    ...overrides,
  };
}

/** Moves every lease and due time into the past, as if `ms` had gone by. */
async function age(db: Database, ms: number) {
  await db.query(
    `UPDATE notification_deliveries
     SET lease_until = lease_until - $1::integer * interval '1 millisecond',
         next_attempt_at = next_attempt_at - $1::integer * interval '1 millisecond'`,
    [ms],
  );
}

describeEachDatabase('PostgresNotificationStore', (factory) => {
  const open = notificationTestDatabase(factory);
  test('a delivery is recorded once per (event, channel, recipient), whatever its id', async (t) => {
    const db = await open(t);
    const store = new PostgresNotificationStore(db);
    const first = delivery();
    assert.deepEqual(await store.recordDeliveries([first]), [first.id]);
    assert.deepEqual(await store.recordDeliveries([delivery()]), [], 'the same key again');
    const other = delivery({ channel: 'sms', recipient: '+1555' });
    assert.deepEqual(await store.recordDeliveries([delivery(), other]), [other.id]);
    assert.equal((await store.listDeliveries({ limit: 10 })).length, 2);
  });

  test('claiming leases a due delivery to one dispatcher, counts the attempt and opens its log', async (t) => {
    const db = await open(t);
    const store = new PostgresNotificationStore(db);
    const d = delivery();
    await store.recordDeliveries([d, delivery({ recipient: 'x@y.z', status: 'skipped' })]);
    const [claimed, ...rest] = await store.claimDue(10, 60_000);
    assert.equal(rest.length, 0, 'skipped deliveries are never claimed');
    assert.ok(claimed);
    assert.equal(claimed.id, d.id);
    assert.equal(claimed.status, 'sending');
    assert.equal(claimed.attempts, 1);
    assert.deepEqual(await store.claimDue(10, 60_000), [], 'leased: nobody else claims it');
    assert.equal(
      await store.recordAttempt(
        claimed,
        { outcome: 'sent', provider: 'smtp', providerMessageId: 'm1', statusCode: 250 },
        12,
      ),
      true,
    );
    const stored = await store.getDelivery(d.id);
    assert.ok(stored);
    assert.equal(stored.status, 'sent');
    assert.equal(stored.provider, 'smtp');
    assert.equal(stored.providerMessageId, 'm1');
    assert.ok(stored.sentAt);
    assert.deepEqual(
      stored.attemptLog.map((a) => [a.attempt, a.outcome, a.statusCode, a.durationMs]),
      [[1, 'sent', 250, 12]],
    );
  });

  test('a lease that expires (its process died mid-send) is taken over; the old attempt is marked interrupted and its holder can no longer record', async (t) => {
    const db = await open(t);
    const store = new PostgresNotificationStore(db);
    const d = delivery();
    await store.recordDeliveries([d]);
    const [dead] = await store.claimDue(10, 1000);
    assert.ok(dead);
    await age(db, 2000);
    const [taken] = await store.claimDue(10, 60_000);
    assert.ok(taken);
    assert.equal(taken.attempts, 2);
    assert.notEqual(taken.leaseToken, dead.leaseToken);
    assert.equal(
      await store.recordAttempt(dead, { outcome: 'sent', provider: 'smtp' }, 5),
      false,
      'the lost lease records nothing',
    );
    assert.equal(await store.recordAttempt(taken, { outcome: 'sent', provider: 'smtp' }, 5), true);
    const stored = await store.getDelivery(d.id);
    assert.deepEqual(
      stored?.attemptLog.map((a) => a.outcome),
      ['interrupted', 'sent'],
    );
    assert.equal(stored?.attempts, 2);
  });

  test('a retry waits until its time; a failure is final', async (t) => {
    const db = await open(t);
    const store = new PostgresNotificationStore(db);
    const d = delivery();
    await store.recordDeliveries([d]);
    const [first] = await store.claimDue(10, 60_000);
    assert.ok(first);
    await store.recordAttempt(
      first,
      {
        outcome: 'retry',
        nextAttemptAt: new Date(Date.now() + 60_000),
        error: '503',
        statusCode: 503,
      },
      3,
    );
    assert.deepEqual(await store.claimDue(10, 60_000), [], 'not due yet');
    await age(db, 61_000);
    const [second] = await store.claimDue(10, 60_000);
    assert.ok(second);
    await store.recordAttempt(second, { outcome: 'failed', error: '400 bad', statusCode: 400 }, 3);
    await age(db, 100_000_000);
    assert.deepEqual(await store.claimDue(10, 60_000), []);
    const stored = await store.getDelivery(d.id);
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.lastError, '400 bad');
    assert.deepEqual(
      stored?.attemptLog.map((a) => [a.outcome, a.statusCode]),
      [
        ['retryable', 503],
        ['permanent', 400],
      ],
    );
  });

  test('the delivery log filters by status, channel, event and recipient, newest first, paged', async (t) => {
    const db = await open(t);
    const store = new PostgresNotificationStore(db);
    const rows = [
      delivery({ eventId: 'a' }),
      delivery({ eventId: 'b', channel: 'sms', recipient: '+1' }),
      delivery({ eventId: 'c', status: 'skipped' }),
    ];
    for (const row of rows) {
      await store.recordDeliveries([row]);
      // Distinct creation times: ids made in one millisecond are not ordered among themselves.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const all = await store.listDeliveries({ limit: 10 });
    assert.deepEqual(
      all.map((d) => d.eventId),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(
      (await store.listDeliveries({ limit: 10, status: 'skipped' })).map((d) => d.eventId),
      ['c'],
    );
    assert.deepEqual(
      (await store.listDeliveries({ limit: 10, channel: 'sms' })).map((d) => d.eventId),
      ['b'],
    );
    assert.deepEqual(
      (await store.listDeliveries({ limit: 10, eventId: 'a' })).map((d) => d.eventId),
      ['a'],
    );
    const page = await store.listDeliveries({ limit: 10, before: all[0]?.id ?? '' });
    assert.deepEqual(
      page.map((d) => d.eventId),
      ['b', 'a'],
    );
  });

  test('an endpoint is disabled only after so many failures in a row over so long; a success resets the count', async (t) => {
    const db = await open(t);
    const store = new PostgresNotificationStore(db);
    const endpoint = await store.createEndpoint({
      id: uuidv7(),
      url: 'https://example.com/hook',
      description: null,
      eventTypes: ['user.*'],
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    });
    assert.equal(await store.endpointFailed(endpoint.id, 3, 0), false);
    assert.equal(await store.endpointFailed(endpoint.id, 3, 0), false);
    await store.endpointSucceeded(endpoint.id);
    assert.equal((await store.getEndpoint(endpoint.id))?.consecutiveFailures, 0);
    for (let i = 0; i < 2; i++)
      assert.equal(await store.endpointFailed(endpoint.id, 3, 3_600_000), false);
    assert.equal(
      await store.endpointFailed(endpoint.id, 3, 3_600_000),
      false,
      'not failing long enough',
    );
    await db.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '2 hours'`);
    assert.equal(await store.endpointFailed(endpoint.id, 3, 3_600_000), true);
    const disabled = await store.getEndpoint(endpoint.id);
    assert.ok(disabled?.disabledAt);
    assert.match(disabled?.disabledReason ?? '', /failed 4 times in a row/);
    assert.deepEqual(await store.activeEndpoints(), []);
    const enabled = await store.updateEndpoint(endpoint.id, { enabled: true });
    assert.equal(enabled?.disabledAt, null);
    assert.equal(enabled?.consecutiveFailures, 0);
  });

  test('rotating a secret keeps the previous one until its grace period ends', async (t) => {
    const db = await open(t);
    const store = new PostgresNotificationStore(db);
    const endpoint = await store.createEndpoint({
      id: uuidv7(),
      url: 'https://example.com/hook',
      description: 'ops',
      eventTypes: ['*'],
      secret: 'whsec_old',
    });
    const rotated = await store.rotateSecret(endpoint.id, 'whsec_new', 60_000);
    assert.equal(rotated?.secret, 'whsec_new');
    assert.equal(rotated?.previousSecret, 'whsec_old');
    const until = Date.parse(rotated?.previousSecretExpiresAt ?? '');
    assert.ok(until > Date.now() + 50_000 && until < Date.now() + 70_000);
    assert.equal(await store.rotateSecret('missing', 'whsec_x', 1), undefined);
    assert.equal(await store.deleteEndpoint(endpoint.id), true);
    assert.equal(await store.deleteEndpoint(endpoint.id), false);
  });
});
