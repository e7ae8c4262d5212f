import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresBroker } from '../../../../src/adapters/brokers/postgres/broker.ts';
import { PostgresEventStore } from '../../../../src/adapters/store/postgres/event-store.ts';
import type { Database } from '../../../../src/ports/database.ts';
import type { FailedEvent, ProcessedEvent } from '../../../../src/ports/event-store.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';

const acceptedAt = new Date('2024-01-01T12:00:00.000Z');

async function accept(db: Database, id: string) {
  const broker = await PostgresBroker.open(db, { partitions: 2, leaseMs: 1000, pollMs: 10 });
  await broker.publish([
    { id, topic: 'events', key: 'u1', type: 'signup', value: { user_id: 'u1' }, headers: {} },
  ]);
}

function processed(id: string): ProcessedEvent {
  return {
    id,
    topic: 'events',
    type: 'signup',
    key: 'u1',
    userId: 'u1',
    payload: { user_id: 'u1' },
    enrichment: { processing_latency_ms: 3 },
    occurredAt: null,
    acceptedAt,
    processedAt: new Date('2024-01-01T12:00:01.000Z'),
    correlationId: 'c1',
    partition: 0,
    offset: 0,
  };
}

function failure(
  id: string,
  generation = 0,
  reason: FailedEvent['reason'] = 'retries_exhausted',
): FailedEvent {
  return {
    id,
    topic: 'events',
    type: 'signup',
    key: 'u1',
    payload: { user_id: 'u1' },
    headers: { correlation_id: 'c1' },
    reason,
    errorCode: 'HERALD_TRANSIENT',
    error: `failed at generation ${generation}`,
    acceptedAt,
    generation,
  };
}

describeEachDatabase('Postgres event store', (database) => {
  test('persisting the same processed event twice stores it once', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    await accept(db, 'e1');
    await store.persist([processed('e1')], []);
    await store.persist([processed('e1')], []);
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM processed_events');
    assert.equal(row?.n, 1);
    assert.equal((await store.get('e1'))?.status, 'processed');
  });

  test('an event goes accepted → failed → dead_lettered, with attempts and times kept', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    await accept(db, 'e2');
    assert.equal((await store.get('e2'))?.status, 'accepted');
    assert.equal(await store.recordAttempt(failure('e2')), 1);
    assert.equal(await store.recordAttempt(failure('e2')), 2);
    const failing = await store.get('e2');
    assert.equal(failing?.status, 'failed');
    assert.equal(failing?.failure?.attempts, 2);
    await store.persist([], [failure('e2')]);
    const dead = await store.get('e2');
    assert.equal(dead?.status, 'dead_lettered');
    assert.equal(dead?.failure?.attempts, 2, 'the last attempt is not counted twice');
    assert.ok((dead?.failure?.firstFailedAt ?? '') <= (dead?.failure?.lastFailedAt ?? ''));
    assert.deepEqual(await store.counts(), {
      accepted: 1,
      processed: 0,
      retrying: 0,
      deadLettered: 1,
    });
  });

  test('a redelivered dead letter of the same generation changes nothing', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    await accept(db, 'e3');
    await store.persist([], [failure('e3', 0, 'invalid')]);
    await store.persist([], [failure('e3', 0, 'invalid')]);
    const [letter] = await store.listDeadLetters({ limit: 10 });
    assert.equal(letter?.attempts, 1);
  });

  test('a replay is marked only while the letter is dead at an older generation', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    await accept(db, 'e4');
    await store.persist([], [failure('e4', 0)]);
    assert.equal(await store.markReplayed('e4', 1), true);
    assert.equal((await store.get('e4'))?.status, 'accepted');
    assert.equal(await store.getDeadLetter('e4'), undefined);
    // The replay (generation 1) fails again: the letter is dead again, at generation 1 ...
    await store.persist([], [failure('e4', 1)]);
    assert.equal((await store.getDeadLetter('e4'))?.replayCount, 1);
    // ... and a stale mark for generation 1 cannot hide it.
    assert.equal(await store.markReplayed('e4', 1), false);
    assert.equal((await store.get('e4'))?.status, 'dead_lettered');
  });

  test('dead letters are filtered by type and reason, newest failure first', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    for (const id of ['a', 'b', 'c']) await accept(db, id);
    await store.persist([], [failure('a', 0, 'invalid')]);
    await store.persist([], [failure('b', 0, 'poison')]);
    await store.persist([], [failure('c', 0, 'invalid')]);
    const invalid = await store.listDeadLetters({ reason: 'invalid', limit: 10 });
    assert.deepEqual(invalid.map((l) => l.id).sort(), ['a', 'c']);
    assert.deepEqual(await store.listDeadLetters({ type: 'nope', limit: 10 }), []);
    assert.equal((await store.listDeadLetters({ limit: 1 })).length, 1);
  });

  test('internal topics in the log (user events, with personal data) are not event lookups', async (t) => {
    const db = await database.open(t);
    const broker = await PostgresBroker.open(db, { partitions: 2, leaseMs: 1000, pollMs: 10 });
    await broker.publish([
      {
        id: 'signup',
        topic: 'events',
        key: 'u1',
        type: 'signup',
        value: { user_id: 'u1' },
        headers: {},
      },
      {
        id: 'user-created',
        topic: 'users',
        key: 'u1',
        type: 'user.created',
        value: { user_id: 'u1', user: { email: 'ada@example.com' } },
        headers: {},
      },
    ]);
    const store = new PostgresEventStore(db);
    assert.equal((await store.get('signup'))?.status, 'accepted');
    assert.equal(await store.get('user-created'), undefined);
    assert.deepEqual(
      (await store.search({ userId: 'u1', limit: 10 })).map((e) => e.id),
      ['signup'],
    );
    assert.deepEqual(await store.search({ topic: 'users', limit: 10 }), []);
    assert.equal((await store.counts()).accepted, 1);
  });
});
