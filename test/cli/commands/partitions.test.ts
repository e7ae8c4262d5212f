import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../../src/app/pipeline.ts';
import { ErrorCodes, HeraldError } from '../../../src/errors.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';
import { herald } from './run-cli.ts';

/** Fails the event with id `id` transiently, on every try. */
function alwaysFailing(id: string): Stage {
  return {
    name: 'downstream',
    run({ message }) {
      if (message.id === id) {
        throw new HeraldError(ErrorCodes.TRANSIENT, 'downstream unavailable', { retryable: true });
      }
    },
  };
}

test('herald partitions shows a stalled partition with its head; dead-letter-head moves it on, --dry-run changes nothing', async (t) => {
  const { url } = await startTestPlatform(
    t,
    {
      QUEUE_PARTITIONS: '2',
      STALL_AFTER_MS: '300',
      RETRY_BASE_MS: '100',
      RETRY_MAX_MS: '300',
      RETRY_MAX_ATTEMPTS: '100',
    },
    { stages: [...defaultStages, alwaysFailing('stuck')] },
  );
  await postJson(`${url}/api/v1/events/batch`, [
    { id: 'stuck', event_type: 'click', user_id: 'k' },
    { id: 'next', event_type: 'click', user_id: 'k' },
  ]);
  const partition = await eventually(async () => {
    const listed = await herald(['partitions', '--stalled', '--json', '--url', url]);
    const stalled = JSON.parse(listed.stdout).partitions as {
      partition: number;
      head_event_id?: string;
    }[];
    return stalled[0]?.head_event_id === 'stuck' ? stalled[0].partition : undefined;
  });

  const table = await herald(['partitions', '--url', url]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`^${partition}\\s+-?\\d+\\s+2\\s+stuck\\s+STALLED`, 'm'));
  assert.match(table.stdout, /1 stalled of 2 \(group herald-processors\)/);

  const wrong = await herald([
    'partitions',
    'dead-letter-head',
    String(partition),
    '--event',
    'next',
    '--url',
    url,
  ]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /409 .*the event at the head of partition \d+ is "stuck", not "next"/);

  const dry = await herald([
    'partitions',
    'dead-letter-head',
    String(partition),
    '--event',
    'stuck',
    '--dry-run',
    '--url',
    url,
  ]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    /^dry run: would ask the worker holding partition \d+ to dead-letter "stuck"/,
  );
  assert.equal((await getJson(`${url}/api/v1/events/stuck`)).body.status, 'failed');

  const done = await herald([
    'partitions',
    'dead-letter-head',
    String(partition),
    '--event',
    'stuck',
    '--note',
    'gave up on it',
    '--url',
    url,
  ]);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /^requested by no API key \(.+\): the worker holding partition/);
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/next`);
    return body.status === 'processed' ? true : undefined;
  });
  const list = await herald(['dlq', 'list', '--reason', 'operator', '--url', url]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /stuck\s+click\s+operator/);
});

test('herald partitions dead-letter-head without --event is a usage error', async () => {
  const result = await herald([
    'partitions',
    'dead-letter-head',
    '3',
    '--url',
    'http://127.0.0.1:1',
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /needs --event ID/);
});
