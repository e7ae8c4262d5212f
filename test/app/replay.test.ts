import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresBroker } from '../../src/adapters/brokers/postgres/broker.ts';
import { PostgresEventStore } from '../../src/adapters/store/postgres/event-store.ts';
import { replayDeadLetter, replayDeadLetters } from '../../src/app/replay.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import type { FailedEvent } from '../../src/ports/event-store.ts';
import { describeEachDatabase } from '../helpers/databases.ts';

function letter(id: string, payload: Record<string, unknown>): FailedEvent {
  return {
    id,
    topic: 'events',
    type: 'click',
    key: 'k',
    payload,
    headers: {},
    reason: 'invalid',
    errorCode: 'HERALD_VALIDATION',
    error: 'refused',
    acceptedAt: new Date('2024-01-01T00:00:00Z'),
    generation: 0,
    partition: 0,
    offset: 0,
  };
}

describeEachDatabase('replaying dead letters', (database) => {
  test('a letter whose payload the store could not hold is not replayed: it would fail the same way', async (t) => {
    const db = await database.open(t);
    const store = new PostgresEventStore(db);
    const broker = await PostgresBroker.open(db, { partitions: 1, leaseMs: 1000, pollMs: 10 });
    t.after(() => broker.close());
    await store.persistDeadLetter(letter('text', { user_id: 'u\u0000' }));
    await store.persistDeadLetter(letter('fine', { user_id: 'u' }));

    await assert.rejects(
      replayDeadLetter(store, broker, 'text', 'c1'),
      (error: unknown) =>
        error instanceof HeraldError &&
        error.code === ErrorCodes.VALIDATION &&
        /has no payload the store can hold \(kept as text\)/.test(error.message),
    );
    const bulk = await replayDeadLetters(store, broker, { limit: 10 }, 'c2');
    assert.deepEqual(bulk.ids.sort(), ['fine', 'text'], 'both match');
    assert.equal(bulk.replayed, 1, 'only the storable one is sent again');
    assert.equal((await store.get('fine'))?.status, 'accepted');
    assert.equal((await store.get('text'))?.status, 'dead_lettered');
  });
});
