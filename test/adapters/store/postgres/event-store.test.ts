import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PostgresBroker } from '../../../../src/adapters/brokers/postgres/broker.ts';
import { PostgresEventStore } from '../../../../src/adapters/store/postgres/event-store.ts';
import { isContentRefusal, isRetryable, sqlStateOf } from '../../../../src/errors.ts';
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
    partition: 0,
    offset: 0,
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
    assert.equal((await store.recordAttempt(failure('e2'))).attempts, 1);
    assert.equal((await store.recordAttempt(failure('e2'))).attempts, 2);
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

describeEachDatabase('Postgres event store: a dead letter always stores', (database) => {
  test('a payload jsonb refuses (NUL, half a surrogate pair) is kept as JSON text that parses back to it', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    const payload = { user_id: 'u1', note: 'nul \u0000 here', formula: 'C\ud83d', ok: '😀' };
    const form = await store.persistDeadLetter({ ...failure('nul', 0, 'invalid'), payload });
    assert.equal(form, 'text');
    const letter = await store.getDeadLetter('nul');
    assert.equal(letter?.payload, null);
    assert.deepEqual(JSON.parse(letter?.payloadText ?? ''), payload, 'round-trips exactly');
    // The same through the batch path: one statement with the good letters, nothing refused.
    await store.persist([], [{ ...failure('nul-2', 0, 'invalid'), payload }, failure('fine')]);
    assert.deepEqual(JSON.parse((await store.getDeadLetter('nul-2'))?.payloadText ?? ''), payload);
    assert.deepEqual((await store.getDeadLetter('fine'))?.payload, { user_id: 'u1' });
  });

  test('a message that was not JSON is kept as a JSON string of its raw text', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    const raw = '{"user_id": "u1", oops \u0000';
    await store.persistDeadLetter({ ...failure('raw', 0, 'poison'), payload: {}, rawValue: raw });
    assert.equal(JSON.parse((await store.getDeadLetter('raw'))?.payloadText ?? ''), raw);
  });

  test('a payload that cannot even be written as JSON leaves a minimal record', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    // Nested deeper than JSON.stringify can go (a broker's JSON.parse read it, though).
    let deep: Record<string, unknown> = { end: true };
    for (let i = 0; i < 20_000; i++) deep = { d: deep };
    const form = await store.persistDeadLetter({ ...failure('deep', 0, 'invalid'), payload: deep });
    assert.equal(form, 'minimal');
    const letter = await store.getDeadLetter('deep');
    assert.equal(letter?.reason, 'invalid');
    assert.match(letter?.lastError ?? '', /stored as a minimal record: Maximum call stack size/);
  });

  test('an error text never splits a surrogate pair nor carries NUL, and is cut by code points', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    const error = `unexpected character '\ud83d' and \u0000, then ${'😀'.repeat(3000)}`;
    await store.persist([], [{ ...failure('text'), error, headers: { 'x-\u0000': 'v\udc00' } }]);
    const letter = await store.getDeadLetter('text');
    assert.ok(letter?.lastError.startsWith("unexpected character '\\ud83d' and \\u0000, then 😀"));
    assert.ok(letter?.lastError.isWellFormed());
    assert.equal([...(letter?.lastError ?? '')].length, 2001, '2,000 code points and an ellipsis');
    assert.ok(letter?.lastError.endsWith('😀…'), 'cut after a whole emoji');
    assert.deepEqual(letter?.headers, { 'x-\\u0000': 'v\\udc00' });
  });

  test('a dead letter that cannot be stored at all leaves a minimal record', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    // Too long for the primary key's index even compressed: random text.
    const id = randomBytes(7500).toString('base64');
    const form = await store.persistDeadLetter({
      ...failure(id, 0, 'persist_failed'),
      partition: 3,
      offset: 41,
      error: 'index row size exceeds the maximum',
    });
    assert.equal(form, 'minimal');
    const [letter] = await store.listDeadLetters({ reason: 'persist_failed', limit: 10 });
    assert.ok(letter !== undefined);
    assert.ok(letter.id.startsWith(id.slice(0, 180)), 'the id is kept as far as it fits');
    assert.ok([...letter.id].length <= 200);
    assert.equal(letter.partition, 3);
    assert.equal(letter.offset, 41);
    assert.equal(letter.topic, 'events');
    assert.equal(letter.payload, null);
    assert.equal(letter.payloadText, null);
    assert.match(
      letter.lastError,
      /^index row size exceeds the maximum \(stored as a minimal record: /,
    );
  });

  test('a processed event PostgreSQL refuses fails the statement with a content refusal', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    const error = await store
      .persist([{ ...processed('tz'), occurredAt: '2024-01-01T12:00:00+20:00' }], [])
      .then(
        () => assert.fail('the insert should be refused'),
        (e: unknown) => e,
      );
    assert.equal(sqlStateOf(error), '22009');
    assert.equal(isContentRefusal(error), true);
    assert.equal(isRetryable(error), false);
  });
});

describeEachDatabase('Postgres event store: operator requests', (database) => {
  test('a request to dead-letter a delivery comes back with its next recorded attempt, until applied', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    const first = await store.recordAttempt({ ...failure('held'), reason: 'transient' });
    assert.deepEqual(first, { attempts: 1, operatorRequest: undefined });
    const request = await store.requestDeadLetter({
      eventId: 'held',
      generation: 0,
      partition: 2,
      topic: undefined,
      requestedBy: 'ops (key_1)',
      note: 'stuck since the deploy',
    });
    assert.equal(request.requestedBy, 'ops (key_1)');
    const second = await store.recordAttempt({ ...failure('held'), reason: 'transient' });
    assert.equal(second.attempts, 2);
    assert.equal(second.operatorRequest?.note, 'stuck since the deploy');
    assert.equal(second.operatorRequest?.partition, 2);
    assert.deepEqual(await store.operatorRequest('held', 0), second.operatorRequest);
    assert.equal(await store.operatorRequest('held', 1), undefined, 'another delivery is not');
    await store.completeOperatorRequest('held', 0);
    assert.equal(await store.operatorRequest('held', 0), undefined);
    const third = await store.recordAttempt({ ...failure('held'), reason: 'transient' });
    assert.equal(third.operatorRequest, undefined);
  });

  test('an operator dead letter records who did it', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    await store.persistDeadLetter({
      ...failure('by-hand', 0, 'operator'),
      operator: 'ops (key_1)',
    });
    const letter = await store.getDeadLetter('by-hand');
    assert.equal(letter?.reason, 'operator');
    assert.equal(letter?.operator, 'ops (key_1)');
  });
});
