import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  analyseDelivery,
  type PersistedRow,
  type Sent,
} from '../../../bench/scenarios/scale-out.ts';

// Key a: events 0..2 at offsets 10..12, persisted in two batches; key b: one event.
const acknowledged = new Map<string, Sent>([
  ['a-0', { key: 'a', seq: 0 }],
  ['a-1', { key: 'a', seq: 1 }],
  ['a-2', { key: 'a', seq: 2 }],
  ['b-0', { key: 'b', seq: 0 }],
]);
// tx: the id of the transaction that inserted the row (the order batches were written in).
const row = (id: string, seq: number, tx: number, offset: number): PersistedRow => ({
  event_id: id,
  key: id.slice(0, 1),
  seq,
  source_partition: 0,
  source_offset: String(offset),
  tx: String(tx),
});
const good = [
  row('a-0', 0, 1, 10),
  row('a-1', 1, 1, 11),
  row('a-2', 2, 2, 12),
  row('b-0', 0, 1, 3),
];
const counts = { rollupCounted: 4, deadLettered: 0 };

test('a clean run: nothing lost, no key out of order', () => {
  const check = analyseDelivery(acknowledged, good, counts);
  assert.deepEqual(check.lost, []);
  assert.deepEqual(check.reordered_keys, []);
  assert.deepEqual(check.offset_reordered_keys, []);
  assert.equal(check.first_reorder, undefined);
  assert.equal(check.persisted, 4);
  assert.equal(check.unacknowledged_persisted, 0);
});

test('an acknowledged event that was never persisted is reported lost', () => {
  const check = analyseDelivery(acknowledged, good.slice(0, 3), counts);
  assert.deepEqual(check.lost, ['b-0']);
});

test('a key whose later event was persisted before an earlier one is reported reordered', () => {
  // a-2 written by transaction 0, before a-0 and a-1: a worker that skipped ahead in the log.
  const rows = [
    row('a-0', 0, 1, 10),
    row('a-1', 1, 1, 11),
    row('a-2', 2, 0, 12),
    good[3] as PersistedRow,
  ];
  const check = analyseDelivery(acknowledged, rows, counts);
  assert.deepEqual(check.reordered_keys, ['a']);
  assert.deepEqual(check.first_reorder, {
    key: 'a',
    partition: 0,
    persisted_first: { seq: 2, offset: '12', tx: '0' },
    persisted_later: { seq: 0, offset: '10', tx: '1' },
  });
});

test('a key whose events sit in the broker out of sequence is reported, even when persisted in order', () => {
  const rows = [
    row('a-0', 0, 1, 11),
    row('a-1', 1, 1, 10),
    row('a-2', 2, 2, 12),
    good[3] as PersistedRow,
  ];
  const check = analyseDelivery(acknowledged, rows, counts);
  assert.deepEqual(check.offset_reordered_keys, ['a']);
});

test('events persisted without an acknowledgement are counted, not treated as lost', () => {
  const check = analyseDelivery(acknowledged, [...good, row('c-0', 0, 1, 1)], counts);
  assert.deepEqual(check.lost, []);
  assert.equal(check.unacknowledged_persisted, 1);
});

test('rollups counting more events than there are rows report the surplus as duplicate effects', () => {
  const check = analyseDelivery(acknowledged, good, { rollupCounted: 6, deadLettered: 0 });
  assert.equal(check.duplicate_effects, 2);
  assert.equal(analyseDelivery(acknowledged, good, counts).duplicate_effects, 0);
});
