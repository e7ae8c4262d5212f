import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';
import { herald } from './run-cli.ts';

test('herald events get prints an event with its status; an unknown id exits 1', async (t) => {
  const { url } = await startTestPlatform(t);
  await postJson(`${url}/events`, { id: 'e-1', event_type: 'purchase', user_id: 'alice' });
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/e-1`);
    return body.status === 'processed' ? true : undefined;
  });
  const run = await herald(['events', 'get', 'e-1', '--url', url]);
  assert.equal(run.code, 0, run.stderr);
  const event = JSON.parse(run.stdout);
  assert.equal(event.status, 'processed');
  assert.equal(event.payload.user_id, 'alice');

  const missing = await herald(['events', 'get', 'nope', '--url', url]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no event with id "nope"/);
  const usage = await herald(['events', 'get']);
  assert.equal(usage.code, 2);
});

test("herald events search finds a user's events of a type, newest first", async (t) => {
  const { url } = await startTestPlatform(t);
  for (const [id, user, type] of [
    ['s-1', 'alice', 'purchase'],
    ['s-2', 'bob', 'purchase'],
    ['s-3', 'alice', 'signup'],
    ['s-4', 'alice', 'purchase'],
  ]) {
    await postJson(`${url}/events`, { id, event_type: type, user_id: user });
  }
  const run = await herald([
    'events',
    'search',
    '--user-id',
    'alice',
    '--type',
    'purchase',
    '--since',
    '1h',
    '--json',
    '--url',
    url,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const ids = (JSON.parse(run.stdout).events as { id: string }[]).map((e) => e.id);
  assert.deepEqual(ids, ['s-4', 's-1']);
  const table = await herald(['events', 'search', '--user-id', 'bob', '--url', url]);
  assert.match(table.stdout, /s-2\s+\w+\s+events\s+purchase\s+bob/);
  assert.match(table.stdout, /1 event\(s\)/);
});
