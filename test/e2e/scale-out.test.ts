import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScaleOut } from '../../bench/scenarios/scale-out.ts';

// The short version of `npm run bench -- --scenario scale-out`: real `herald api` and
// `herald worker` processes on Kafka (8 partitions, a fresh namespace) and server PostgreSQL
// (a fresh schema), workers SIGKILLed and added while events flow.
test('2 APIs and 4 workers on Kafka: with workers SIGKILLed and added mid-run, every acknowledged event is persisted exactly once, in per-key order', {
  timeout: 150_000,
}, async () => {
  const report = await runScaleOut({
    events: 2400,
    // An added worker's first join can wait out a killed one's session (6 s) before it gets
    // partitions: the load goes on for about that long after the last step.
    eventsAfterChaos: 2400,
    maxLoadMs: 70_000,
    // Paced, so that events keep flowing through the kills and additions.
    rate: 300,
    apis: 2,
    workers: 4,
    partitions: 8,
    lanes: 4,
    keysPerLane: 25,
    // Each step at a count of persisted events, and the load lasts until all have happened.
    chaos: [
      { atPersisted: 400, action: 'kill' },
      { atPersisted: 800, action: 'add' },
      { atPersisted: 1200, action: 'kill' },
      { atPersisted: 1600, action: 'add' },
    ],
    // Kafka's smallest allowed: a killed worker's partitions move after 6 s.
    sessionTimeoutMs: 6000,
    drainTimeoutMs: 40_000,
    log: (message) => process.stderr.write(`  scale-out: ${message}\n`),
  });
  const { check } = report;
  assert.deepEqual(
    report.chaos.map((c) => c.action),
    ['kill', 'add', 'kill', 'add'],
    'both kills and both additions happened',
  );
  for (const c of report.chaos) {
    assert.ok(
      check.acknowledged > c.acknowledged_then,
      `events were still being sent after ${c.action} ${c.worker}`,
    );
    if (c.action === 'add') {
      assert.ok(
        c.ready_acknowledged !== undefined && check.acknowledged > c.ready_acknowledged,
        `${c.worker} was consuming while events were still being sent`,
      );
    }
  }
  assert.ok(check.acknowledged >= 2400, `${check.acknowledged} events acknowledged`);
  assert.deepEqual(check.lost, [], 'lost = acknowledged − persisted');
  assert.equal(check.duplicate_effects, 0, 'no event counted twice');
  assert.equal(check.rollup_counted, check.persisted, 'each persisted event counted once');
  assert.deepEqual(
    check.reordered_keys,
    [],
    `per-key order of persisting: ${JSON.stringify(check.first_reorder)}`,
  );
  assert.deepEqual(check.offset_reordered_keys, [], 'per-key order in the broker');
  assert.equal(check.dead_lettered, 0);
  assert.ok(report.completed);
  process.stderr.write(
    `  scale-out: ${check.acknowledged} events, ${report.persisted_per_s} persisted/s, ` +
      `longest stall ${report.longest_stall_ms} ms\n`,
  );
});
