import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStages, processMessage } from '../../src/app/pipeline.ts';
import { TIMESTAMP_RULE } from '../../src/domain/postgres-limits.ts';
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

test('a stage losing its connection is transient: the event is retried', async () => {
  const lost = {
    name: 'lookup',
    run: () => {
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    },
  };
  const outcome = await processMessage(
    delivered('events', { user_id: 'u', event_type: 'x' }),
    [lost],
    now,
  );
  assert.equal(outcome.kind, 'retry');
  if (outcome.kind === 'retry') {
    assert.equal(outcome.failure.reason, 'transient', 'named for what it is while it retries');
    assert.equal(outcome.failure.errorCode, 'HERALD_TRANSIENT');
  }
});

test('a stage throwing over an event’s content is poison at once, not retried without end', async () => {
  const buggy = {
    name: 'enrich',
    run: () => {
      throw new RangeError('reported weight must be a finite number');
    },
  };
  const outcome = await processMessage(
    delivered('events', { user_id: 'u', event_type: 'x' }),
    [buggy],
    now,
  );
  assert.equal(outcome.kind, 'dead');
  if (outcome.kind !== 'dead') return;
  assert.equal(outcome.failure.reason, 'poison');
  assert.equal(outcome.failure.errorCode, 'HERALD_POISON_MESSAGE');
  assert.equal(
    outcome.failure.error,
    'stage "enrich" failed: reported weight must be a finite number',
  );
});

test('a formula with an emoji is invalid, and its reason quotes the emoji whole', async () => {
  const outcome = await processMessage(
    delivered('chemical', { molecule_id: 'mol_emoji', researcher: 'R', data: { formula: 'C😀' } }),
    defaultStages,
    now,
  );
  assert.equal(outcome.kind, 'dead');
  if (outcome.kind !== 'dead') return;
  assert.equal(outcome.failure.reason, 'invalid');
  assert.equal(
    outcome.failure.error,
    `data.formula "C😀" is not a chemical formula: unexpected character '😀' (at 1)`,
  );
  assert.ok(outcome.failure.error.isWellFormed());
});

test('(H2O)1000000000 is an invalid formula, dead-lettered at once', async () => {
  const outcome = await processMessage(
    delivered('chemical', {
      molecule_id: 'm',
      researcher: 'R',
      data: { formula: '(H2O)1000000000' },
    }),
    defaultStages,
    now,
  );
  assert.equal(outcome.kind, 'dead');
  if (outcome.kind === 'dead') {
    assert.equal(outcome.failure.reason, 'invalid');
    assert.match(outcome.failure.error, /count 1000000000 exceeds the limit of 1000000/);
  }
});

test('a time PostgreSQL cannot store is invalid in the pipeline, as at the API', async () => {
  for (const [timestamp, why] of [
    ['2024-01-01T12:00:00+20:00', 'the UTC offset must be within ±15:59'],
    ['0000-01-01T00:00:00Z', 'the year must be from 0001 to 9999'],
    ['2023-02-29T00:00:00Z', '2023-02-29 is not a calendar date'],
    ['Mon, 01 Jan 2024 12:00:00 GMT', `must be ${TIMESTAMP_RULE}`],
  ]) {
    const outcome = await processMessage(
      delivered('analytics', { user_id: 'u', event_type: 'x', timestamp }),
      defaultStages,
      now,
    );
    assert.equal(outcome.kind, 'dead', timestamp);
    if (outcome.kind !== 'dead') continue;
    assert.equal(outcome.failure.reason, 'invalid');
    assert.equal(outcome.failure.error, `timestamp "${timestamp}" is not storable: ${why}`);
  }
  const fine = await processMessage(
    delivered('analytics', {
      user_id: 'u',
      event_type: 'x',
      timestamp: '2024-05-31T23:00:00+15:59',
    }),
    defaultStages,
    now,
  );
  assert.equal(fine.kind, 'processed');
});

test('what PostgreSQL cannot store or read, straight from a broker, is dead-lettered at once', async () => {
  const cases: [DeliveredMessage, string, RegExp][] = [
    [
      delivered('events', { user_id: 'u\u0000', event_type: 'x' }),
      'invalid',
      /^user_id contains NUL/,
    ],
    [
      delivered('chemical', { molecule_id: 'm', researcher: 'R', data: { formula: 'C\ud83d' } }),
      'invalid',
      /^data\.formula contains an unpaired UTF-16 surrogate/,
    ],
    [
      delivered('chemical', {
        molecule_id: 'm',
        researcher: 'R',
        data: { formula: 'H2O', weight: Number.POSITIVE_INFINITY },
      }),
      'invalid',
      /^data\.weight is Infinity/,
    ],
    [
      { ...delivered('events', { user_id: 'u', event_type: 'x' }), key: 'k\udc00' },
      'poison',
      /^message key contains an unpaired/,
    ],
    [
      { ...delivered('events', {}), malformed: { reason: 'value is not JSON', raw: '{oops' } },
      'poison',
      /^value is not JSON$/,
    ],
    [
      { ...delivered('events', { user_id: 'u', event_type: 'x' }), id: '' },
      'poison',
      /^message has no id$/,
    ],
  ];
  for (const [message, reason, error] of cases) {
    const outcome = await processMessage(message, defaultStages, now);
    assert.equal(outcome.kind, 'dead', String(error));
    if (outcome.kind !== 'dead') continue;
    assert.equal(outcome.failure.reason, reason, String(error));
    assert.match(outcome.failure.error, error);
  }
  const noId = await processMessage({ ...delivered('events', {}), id: '' }, defaultStages, now);
  assert.equal(noId.kind === 'dead' && noId.failure.id, 'no-id:events:0:7', 'kept under its place');
  const raw = await processMessage(
    { ...delivered('events', {}), malformed: { reason: 'value is not JSON', raw: '{oops' } },
    defaultStages,
    now,
  );
  assert.equal(raw.kind === 'dead' && raw.failure.rawValue, '{oops', 'the raw text is kept');
});
