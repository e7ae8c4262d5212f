import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addOutcomes,
  canonicalJson,
  checkSelection,
  emptyProgress,
  isFinished,
  REPLAY_ACTIONS,
  type ReplaySelection,
} from '../../src/domain/replays.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';

const now = new Date('2026-06-01T12:00:00Z');
const selection = (over: Partial<ReplaySelection> = {}): ReplaySelection => ({
  from: '2026-06-01T10:00:00Z',
  to: '2026-06-01T11:00:00Z',
  topics: ['analytics'],
  types: null,
  keys: null,
  ...over,
});

const refusedOn = (field: string) => (error: unknown) =>
  error instanceof HeraldError &&
  error.code === ErrorCodes.VALIDATION &&
  error.details.field === field;

test('a selection is a range that ends after it starts and not in the future, on topics the target takes', () => {
  assert.deepEqual(
    checkSelection('pipeline', selection({ topics: ['analytics', 'analytics'] }), now),
    {
      ...selection(),
      from: '2026-06-01T10:00:00.000Z',
      to: '2026-06-01T11:00:00.000Z',
    },
  );
  assert.throws(
    () => checkSelection('pipeline', selection({ to: selection().from }), now),
    refusedOn('to'),
  );
  assert.throws(
    () => checkSelection('pipeline', selection({ to: '2026-06-01T12:00:01Z' }), now),
    refusedOn('to'),
  );
  assert.throws(
    () => checkSelection('pipeline', selection({ from: 'yesterday' }), now),
    refusedOn('from'),
  );
  assert.throws(
    () => checkSelection('agent', selection(), now),
    refusedOn('topics'),
    'agents read chemical',
  );
  assert.throws(
    () => checkSelection('pipeline', selection({ topics: ['users'] }), now),
    refusedOn('topics'),
  );
  assert.doesNotThrow(() => checkSelection('webhook', selection({ topics: ['users'] }), now));
  assert.throws(
    () => checkSelection('webhook', selection({ topics: [] }), now),
    refusedOn('topics'),
  );
});

test('progress adds each batch’s outcomes, per type, as sent or skipped', () => {
  const one = addOutcomes(emptyProgress(), [
    { type: 'click', outcome: 'rederived' },
    { type: 'click', outcome: 'unchanged' },
    { type: 'view', outcome: 'not_processed' },
  ]);
  const two = addOutcomes(one, [{ type: 'click', outcome: 'rederived' }]);
  assert.deepEqual(two, {
    read: 4,
    sent: 2,
    skipped: 2,
    byType: { click: { sent: 2, skipped: 1 }, view: { sent: 0, skipped: 1 } },
    outcomes: { rederived: 2, unchanged: 1, not_processed: 1 },
  });
  assert.equal(one.read, 3, 'the earlier progress is left as it was');
});

test('an operator moves a replay only from the statuses the move leaves', () => {
  assert.deepEqual(REPLAY_ACTIONS.pause.from, ['pending', 'running']);
  assert.deepEqual(REPLAY_ACTIONS.resume.from, ['paused']);
  assert.ok(!(REPLAY_ACTIONS.cancel.from as readonly string[]).includes('completed'));
  assert.deepEqual(
    (['pending', 'running', 'paused', 'cancelled', 'completed', 'failed'] as const).filter(
      isFinished,
    ),
    ['cancelled', 'completed', 'failed'],
  );
});

test('two enrichments are the same whatever the order of their keys', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }),
    canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
  );
  assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
});
