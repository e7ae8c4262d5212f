import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../src/app/pipeline.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../helpers/platform.ts';

/** A stage failing transiently for the events whose id is in `failing` (counting attempts). */
function flakyStage(failing: Map<string, number>): Stage {
  return {
    name: 'flaky',
    run({ message }) {
      const left = failing.get(message.id);
      if (left === undefined || left === 0) return;
      failing.set(message.id, left - 1);
      throw new HeraldError(ErrorCodes.TRANSIENT, `downstream unavailable for ${message.id}`, {
        retryable: true,
      });
    },
  };
}

async function statusOf(url: string, id: string, wanted: string) {
  return eventually(
    async () => {
      const { body } = await getJson(`${url}/api/v1/events/${id}`);
      return body.status === wanted ? body : undefined;
    },
    { message: `${id} to be ${wanted}` },
  );
}

test('a transient failure is retried with backoff and the event is processed once it passes', async (t) => {
  const failing = new Map([['flaky-1', 2]]);
  const { url, db } = await startTestPlatform(
    t,
    { RETRY_BASE_MS: '20', RETRY_MAX_ATTEMPTS: '3' },
    { stages: [...defaultStages, flakyStage(failing)] },
  );
  await postJson(`${url}/events`, { id: 'flaky-1', event_type: 'purchase', user_id: 'u1' });
  await statusOf(url, 'flaky-1', 'processed');
  assert.equal(failing.get('flaky-1'), 0);
  const [attempts] = await db.query<{ attempts: number }>(
    `SELECT attempts FROM failed_events WHERE event_id = 'flaky-1'`,
  );
  assert.equal(attempts?.attempts, 2, 'both failed attempts were recorded');
});

test('an event failing on every try is dead-lettered after the retries, and its key waits for it', async (t) => {
  const failing = new Map([['stuck', Number.POSITIVE_INFINITY]]);
  const { url, db } = await startTestPlatform(
    t,
    { RETRY_BASE_MS: '20', RETRY_MAX_ATTEMPTS: '2' },
    { stages: [...defaultStages, flakyStage(failing)] },
  );
  await postJson(`${url}/api/v1/events/batch`, [
    { id: 'stuck', event_type: 'purchase', user_id: 'same-user' },
    { id: 'next', event_type: 'purchase', user_id: 'same-user' },
  ]);
  const dead = await statusOf(url, 'stuck', 'dead_lettered');
  const failure = dead.failure as { reason: string; attempts: number; lastError: string };
  assert.equal(failure.reason, 'retries_exhausted');
  assert.equal(failure.attempts, 3, 'the first try and two retries');
  assert.match(failure.lastError, /downstream unavailable/);

  const next = await statusOf(url, 'next', 'processed');
  const [row] = await db.query<{ last_failed_at: Date }>(
    `SELECT last_failed_at FROM failed_events WHERE event_id = 'stuck'`,
  );
  assert.ok(
    new Date(next.processed_at as string).getTime() >=
      (row?.last_failed_at.getTime() ?? Number.POSITIVE_INFINITY) - 5,
    'the later event of the same key was processed only after the earlier one was dead-lettered',
  );
});

test('an invalid event is dead-lettered at once with its reason and no retries', async (t) => {
  const { url } = await startTestPlatform(t, { RETRY_BASE_MS: '5000' });
  const sent = await postJson(`${url}/api/v1/events/chemical`, {
    molecule_id: 'm-bad',
    researcher: 'Dr. B',
    data: { formula: 'Xx2O', weight: 10 },
  });
  const dead = await statusOf(url, sent.body.event_id as string, 'dead_lettered');
  const failure = dead.failure as {
    reason: string;
    attempts: number;
    errorCode: string;
    lastError: string;
  };
  assert.equal(failure.reason, 'invalid');
  assert.equal(failure.attempts, 1);
  assert.equal(failure.errorCode, 'HERALD_VALIDATION');
  assert.match(failure.lastError, /Xx/);
});

test('a dead letter can be listed, inspected and replayed once its cause is fixed', async (t) => {
  const failing = new Map([['replay-me', Number.POSITIVE_INFINITY]]);
  const { url } = await startTestPlatform(
    t,
    { RETRY_BASE_MS: '10', RETRY_MAX_ATTEMPTS: '0' },
    { stages: [...defaultStages, flakyStage(failing)] },
  );
  await postJson(`${url}/events`, { id: 'replay-me', event_type: 'signup', user_id: 'u9' });
  await statusOf(url, 'replay-me', 'dead_lettered');

  const list = await getJson(`${url}/api/v1/dead-letters?reason=retries_exhausted`);
  const letters = list.body.dead_letters as { id: string; attempts: number }[];
  assert.deepEqual(
    letters.map((l) => l.id),
    ['replay-me'],
  );
  const one = await getJson(`${url}/api/v1/dead-letters/replay-me`);
  assert.equal(one.body.reason, 'retries_exhausted');

  failing.delete('replay-me');
  const replay = await postJson(`${url}/api/v1/dead-letters/replay-me/replay`, {});
  assert.equal(replay.status, 202);
  assert.equal(replay.body.generation, 1);
  await statusOf(url, 'replay-me', 'processed');
  const after = await getJson(`${url}/api/v1/dead-letters`);
  assert.deepEqual(after.body.dead_letters, []);
  const missing = await postJson(`${url}/api/v1/dead-letters/nope/replay`, {});
  assert.equal(missing.status, 404);
});

test('a redelivered batch changes nothing: persisting is idempotent on the event id', async (t) => {
  const { url, db } = await startTestPlatform(t);
  await postJson(`${url}/events`, { id: 'once', event_type: 'signup', user_id: 'u1' });
  await statusOf(url, 'once', 'processed');
  // Rewind the group's offsets as a crash before the commit would, and let it all run again.
  await db.query('UPDATE consumer_leases SET committed_offset = -1');
  await eventually(async () => {
    const rows = await db.query<{ lag: number }>(
      `SELECT sum(p.next_offset - 1 - c.committed_offset)::int AS lag FROM log_partitions p JOIN consumer_leases c USING (partition)`,
    );
    return rows[0]?.lag === 0 ? true : undefined;
  });
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM processed_events`);
  assert.equal(row?.n, 1);
});

for (const database of ['embedded', 'postgres'] as const) {
  test(`a formula with an emoji is dead-lettered at once and nothing behind it waits [${database}]`, async (t) => {
    const { url, metrics } = await startTestPlatform(t, { QUEUE_PARTITIONS: '2' }, { database });
    const chemical = (formula: string, molecule: string) => ({
      type: 'chemical',
      molecule_id: molecule,
      researcher: 'R',
      data: { formula },
    });
    const sent = await postJson(`${url}/api/v1/events/batch`, [
      chemical('C😀', 'mol_emoji'),
      chemical('H2O', 'mol_emoji'),
      ...Array.from({ length: 40 }, (_, i) => chemical('CH4', `mol_${i}`)),
      chemical('(H2O)1000000000', 'mol_emoji'),
    ]);
    assert.equal(sent.status, 202);
    const ids = (sent.body.results as { event_id: string }[]).map((r) => r.event_id);
    const [emoji, water, ...rest] = ids;
    const absurd = rest.pop();
    const dead = await statusOf(url, emoji ?? '', 'dead_lettered');
    const failure = dead.failure as { reason: string; lastError: string };
    assert.equal(failure.reason, 'invalid');
    assert.equal(
      failure.lastError,
      `data.formula "C😀" is not a chemical formula: unexpected character '😀' (at 1)`,
    );
    const processed = await statusOf(url, water ?? '', 'processed');
    assert.ok(
      new Date(processed.processed_at as string).getTime() >=
        new Date((dead.failure as { lastFailedAt: string }).lastFailedAt).getTime(),
      'the later event of the same molecule did not overtake it',
    );
    await statusOf(url, absurd ?? '', 'dead_lettered');
    for (const id of rest) await statusOf(url, id, 'processed');
    const breaker = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'herald_circuit_breaker_state',
    );
    assert.equal(breaker?.values[0]?.value, 0, 'the database breaker stayed closed');
  });
}
