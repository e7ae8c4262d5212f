import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderFrame, type Summary } from '../../../src/cli/commands/monitor.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';
import { deadUrl, herald } from './run-cli.ts';

test('herald monitor --once shows the counts, failure rate and lag of a running Herald', async (t) => {
  const { url } = await startTestPlatform(t);
  await postJson(`${url}/api/v1/events/batch`, [
    { event_type: 'click', user_id: 'u1' },
    { event_type: 'click', user_id: 'u2' },
    { molecule_id: 'm1', researcher: 'r', data: { formula: 'Qq7' } },
  ]);
  await eventually(async () => {
    const { body } = await getJson(`${url}/metrics/summary`);
    return body.processed === 2 && body.dead_lettered === 1 ? true : undefined;
  });
  const run = await herald(['monitor', '--once', '--url', url]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /accepted\s+3\s/);
  assert.match(run.stdout, /processed\s+2\s/);
  assert.match(run.stdout, /dead letters\s+1\s/);
  assert.match(run.stdout, /queue depth\s+0/);
  assert.match(run.stdout, /lag by partition {2}0:0 1:0/);
  assert.ok(!run.stdout.includes('\u001b['), 'no terminal control codes when piped');

  const json = await herald(['monitor', '--once', '--json', '--url', url]);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).accepted, 3);
});

test('the monitor frame shows the dead-letter share of accepted events as the failure rate', () => {
  const summary: Summary = {
    accepted: 100,
    processed: 90,
    failed: 2,
    dead_lettered: 8,
    queue_depth: 12,
    rates_per_second: { accepted: 50, processed: 45, dead_lettered: 5 },
    partitions: [
      { partition: 0, lag: 5 },
      { partition: 1, lag: 7 },
    ],
    broker: 'postgres',
    database: 'postgres',
    started_at: '2026-01-01T00:00:00.000Z',
  };
  const frame = renderFrame('http://h', summary, new Date('2026-01-01T01:02:03Z'));
  assert.match(frame, /failure rate\s+10\.0 %/);
  assert.match(frame, /max partition lag\s+7/);
  assert.match(frame, /up 1h 2m/);
});

test('herald monitor --once exits 1 when the API is down and 2 on bad usage', async () => {
  const down = await herald(['monitor', '--once', '--url', await deadUrl()]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach/);
  const bad = await herald(['monitor', '--json']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--json needs --once/);
});
