/**
 * The checker of the fault suite must itself be able to fail: a database with a lost event, a
 * double effect and a reordered key is reported as exactly that; a clean one passes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresEventStore } from '../../src/adapters/store/postgres/event-store.ts';
import type { ProcessedEvent } from '../../src/ports/event-store.ts';
import { DATABASES, POSTGRES_URL } from '../helpers/databases.ts';
import { assertDelivery, checkDelivery, DeliveryLog } from '../helpers/delivery-check.ts';

const postgres = DATABASES.find((d) => d.kind === 'postgres');

function event(key: string, seq: number, offset: number, at: number): ProcessedEvent {
  return {
    id: `${key}-${seq}`,
    topic: 'events',
    type: key,
    key,
    userId: key,
    payload: { event_type: key, user_id: key, properties: { seq } },
    enrichment: {},
    occurredAt: null,
    acceptedAt: new Date(at),
    processedAt: new Date(at),
    correlationId: null,
    partition: 0,
    offset,
  };
}

test('the delivery checker reports lost, doubly-applied and reordered events, and passes a clean run', async (t) => {
  assert.ok(postgres);
  const db = await postgres.open(t);
  const store = new PostgresEventStore(db);
  const base = Date.parse('2026-01-01T00:00:00Z');
  const log = new DeliveryLog();
  // Key a: clean. Key b: seq 2 processed before seq 1. Key c: c-1 acknowledged, never persisted.
  await store.persist([event('a', 0, 0, base), event('a', 1, 1, base + 1)], []);
  await store.persist([event('b', 0, 2, base), event('b', 2, 3, base + 1)], []);
  await store.persist([event('b', 1, 4, base + 2)], []);
  await store.persist([event('c', 0, 5, base)], []);
  log.acknowledge(['a-0', 'a-1', 'b-0', 'b-1', 'b-2', 'c-0', 'c-1']);

  const options = { databaseUrl: POSTGRES_URL, schema: db.schema ?? '' };
  const report = await checkDelivery(log, options);
  assert.deepEqual(report.lost, ['c-1']);
  assert.deepEqual(report.reorders, [{ key: 'b', previous: 2, seq: 1 }]);
  assert.deepEqual(report.duplicateEffects, []);
  assert.equal(report.rollupTotal, report.persisted);
  assert.throws(() => assertDelivery(report), /acknowledged − persisted/);

  // A second effect of a-0 (as a non-idempotent persist would leave): the rollup over-counts.
  await db.query(`UPDATE analytics_counts SET n = n + 1 WHERE grain = 'day' AND event_type = 'a'`);
  const doubled = await checkDelivery(log, options);
  assert.deepEqual(doubled.duplicateEffects, [{ type: 'a', processed: 2, counted: 3 }]);

  const clean = new DeliveryLog();
  clean.acknowledge(['a-0', 'a-1']);
  await db.query(`UPDATE analytics_counts SET n = n - 1 WHERE grain = 'day' AND event_type = 'a'`);
  await db.query(`DELETE FROM processed_events WHERE key <> 'a'`);
  await db.query(`DELETE FROM analytics_counts WHERE event_type <> 'a'`);
  assertDelivery(await checkDelivery(clean, options), { minAcknowledged: 2 });
});
