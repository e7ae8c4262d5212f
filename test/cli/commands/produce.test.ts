import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, startTestPlatform } from '../../helpers/platform.ts';
import { deadUrl, herald } from './run-cli.ts';

test('herald produce sends seed-shaped events of every family and they are processed', async (t) => {
  const { url } = await startTestPlatform(t);
  const run = await herald([
    'produce',
    '--count',
    '30',
    '--type',
    'mixed',
    '--rate',
    '300',
    '--id-prefix',
    'p',
    '--url',
    url,
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /produced 30 mixed events .*: 30 accepted, 0 refused, 0 failed/);
  await eventually(async () => {
    const { body } = await getJson(`${url}/metrics/summary`);
    return body.processed === 30 ? true : undefined;
  });
  const topics = new Set<string>();
  for (const id of ['p-0', 'p-1', 'p-2']) {
    const { body } = await getJson(`${url}/api/v1/events/${id}`);
    topics.add(body.topic as string);
  }
  assert.deepEqual([...topics].sort(), ['analytics', 'chemical', 'events']);
});

test('herald produce --rate paces the events over time', async (t) => {
  const { url } = await startTestPlatform(t);
  const started = Date.now();
  const run = await herald(['produce', '--count', '10', '--rate', '20', '--url', url]);
  assert.equal(run.code, 0, run.stderr);
  // 10 events at 20/s: the last is due 450 ms after the first.
  assert.ok(Date.now() - started >= 450, 'took at least the paced duration');
});

test('herald produce --invalid-ratio 1 sends events that workers dead-letter', async (t) => {
  const { url } = await startTestPlatform(t);
  const run = await herald(['produce', '--count', '4', '--invalid-ratio', '1', '--url', url]);
  assert.equal(run.code, 0, run.stderr);
  await eventually(async () => {
    const { body } = await getJson(`${url}/metrics/summary`);
    return body.dead_lettered === 4 ? true : undefined;
  });
});

test('herald produce exits 2 on bad usage and 1 when the API cannot be reached', async () => {
  const help = await herald(['produce', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--count N/);
  const badType = await herald(['produce', '--type', 'sms']);
  assert.equal(badType.code, 2);
  assert.match(badType.stderr, /--type: must be one of analytics, chemical, events, mixed/);
  const unknown = await herald(['produce', '--frobnicate']);
  assert.equal(unknown.code, 2);
  const down = await herald(['produce', '--count', '1', '--url', await deadUrl()]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/);
});
