import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WORKER_GROUP } from '../../src/platform.ts';
import { postJson, startTestPlatform } from '../helpers/platform.ts';

function samples(text: string, name: string): { labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => {
      const [labels = '', value = ''] = line.slice(name.length).split(' ');
      return { labels, value: Number(value) };
    });
}

test('a scrape reports consumer lag per group and partition and the queue depth, read from the broker', async (t) => {
  const { url } = await startTestPlatform(
    t,
    { QUEUE_PARTITIONS: '4' },
    { database: 'postgres', roles: { api: true, worker: false } },
  );
  await postJson(
    `${url}/api/v1/events/batch`,
    Array.from({ length: 5 }, (_, i) => ({ event_type: 'click', user_id: `user-${i}` })),
  );
  const text = await (await fetch(`${url}/metrics`)).text();
  const lag = samples(text, 'herald_consumer_lag');
  assert.equal(lag.length, 4, 'one series per partition');
  assert.ok(lag.every((s) => s.labels.includes(`group="${WORKER_GROUP}"`)));
  assert.equal(
    lag.reduce((sum, s) => sum + s.value, 0),
    5,
  );
  assert.deepEqual(samples(text, 'herald_queue_depth'), [
    { labels: `{group="${WORKER_GROUP}"}`, value: 5 },
  ]);
});
