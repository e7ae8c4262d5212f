import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStages, processMessage } from '../../src/app/pipeline.ts';
import type { DeliveredMessage } from '../../src/ports/broker.ts';

const now = new Date('2024-06-01T00:00:00.000Z');

function delivered(topic: string, value: Record<string, unknown>): DeliveredMessage {
  return {
    id: 'e1',
    topic,
    key: 'k',
    type: String(value.event_type ?? 'molecule_submitted'),
    value,
    headers: { correlation_id: 'c1' },
    partition: 0,
    offset: 7,
    acceptedAt: new Date('2024-05-31T23:59:59.900Z'),
    generation: 0,
  };
}

test('a valid analytics event is processed with its timing enrichment', async () => {
  const outcome = await processMessage(
    delivered('analytics', {
      user_id: 'u1',
      event_type: 'page_view',
      timestamp: '2024-05-31T12:00:00Z',
    }),
    defaultStages,
    now,
  );
  assert.equal(outcome.kind, 'processed');
  if (outcome.kind !== 'processed') return;
  assert.equal(outcome.event.userId, 'u1');
  assert.equal(outcome.event.occurredAt, '2024-05-31T12:00:00Z');
  assert.equal(outcome.event.correlationId, 'c1');
  assert.equal(outcome.event.enrichment.processing_latency_ms, 100);
});

test('a chemical event gets its masses and the reported weight checked, not corrected', async () => {
  const outcome = await processMessage(
    delivered('chemical', {
      molecule_id: 'm',
      researcher: 'r',
      data: { formula: 'C8H10N4O2', weight: 150 },
    }),
    defaultStages,
    now,
  );
  assert.equal(outcome.kind, 'processed');
  if (outcome.kind !== 'processed') return;
  const chemistry = outcome.event.enrichment.chemistry as Record<string, unknown>;
  assert.equal(chemistry.hill_formula, 'C8H10N4O2');
  assert.equal(chemistry.molar_mass, 194.194);
  assert.equal(chemistry.weight_matches, false);
  assert.equal(chemistry.reported_weight, 150);
  assert.equal((outcome.event.payload.data as { weight: number }).weight, 150);
});

test('an unparseable formula is invalid: dead-lettered at once with the parser’s reason', async () => {
  const outcome = await processMessage(
    delivered('chemical', { molecule_id: 'm', researcher: 'r', data: { formula: 'H2O)' } }),
    defaultStages,
    now,
  );
  assert.equal(outcome.kind, 'dead');
  if (outcome.kind !== 'dead') return;
  assert.equal(outcome.failure.reason, 'invalid');
  assert.match(outcome.failure.error, /H2O\)/);
});

test('a timestamp more than a day ahead of the clock is invalid', async () => {
  const outcome = await processMessage(
    delivered('events', { user_id: 'u', event_type: 'x', timestamp: '2024-06-03T00:00:00Z' }),
    defaultStages,
    now,
  );
  assert.equal(outcome.kind, 'dead');
  if (outcome.kind === 'dead') assert.equal(outcome.failure.reason, 'invalid');
});

test('a message missing what its topic needs is poison; an unknown topic too', async () => {
  for (const message of [
    delivered('analytics', { event_type: 'x' }),
    delivered('mystery', { a: 1 }),
  ]) {
    const outcome = await processMessage(message, defaultStages, now);
    assert.equal(outcome.kind, 'dead');
    if (outcome.kind === 'dead') assert.equal(outcome.failure.reason, 'poison');
  }
});

test('an unexpected error in a stage is treated as transient: retry', async () => {
  const boom = {
    name: 'boom',
    run: () => {
      throw new Error('socket hang up');
    },
  };
  const outcome = await processMessage(
    delivered('events', { user_id: 'u', event_type: 'x' }),
    [boom],
    now,
  );
  assert.equal(outcome.kind, 'retry');
});
