import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as sql from '../../../src/adapters/brokers/postgres/sql.ts';
import { startTestPlatform } from '../../helpers/platform.ts';
import { herald } from './run-cli.ts';

test('herald log shows the retention, the log’s extent and the group holding it back; forget-group lets it go', async (t) => {
  const platform = await startTestPlatform(t, {
    LOG_RETENTION: '1s',
    LOG_SEGMENT: '1h',
    // The log's rows are the window's ids: a short window lets the segment expire.
    DEDUPE_WINDOW: '1s',
    AGENTS_ENABLED: 'false',
    NOTIFICATIONS_ENABLED: 'false',
  });
  const { url } = platform;
  const plain = await herald(['log', '--url', url]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /postgres broker/);
  assert.match(plain.stdout, /retention\s+1s, segments of 1h/);
  assert.match(plain.stdout, /dedupe window\s+1s/);
  assert.match(plain.stdout, /herald-processors\s+ok/);

  // A group that joined and never read, and a closed segment older than the retention.
  await platform.db.query(sql.joinGroup, ['old-reporting']);
  await platform.broker.publish([
    { id: 'e', topic: 'analytics', key: 'u', type: 'click', value: {}, headers: {} },
  ]);
  await platform.broker.log.roll?.(0);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const held = await herald(['log', 'status', '--check', '--url', url]);
  assert.equal(held.code, 3, held.stdout + held.stderr);
  assert.match(held.stdout, /old-reporting\s+HOLDS RETENTION BACK/);
  const json = JSON.parse((await herald(['log', '--json', '--url', url])).stdout);
  assert.equal(json.retention_ms, 1000);
  assert.deepEqual(
    json.groups.find((g: { group: string }) => g.group === 'old-reporting'),
    { group: 'old-reporting', blocking: true },
  );

  const forgot = await herald(['log', 'forget-group', 'old-reporting', '--url', url]);
  assert.equal(forgot.code, 0, forgot.stderr);
  assert.doesNotMatch((await herald(['log', '--url', url])).stdout, /old-reporting/);
  const missing = await herald(['log', 'forget-group', 'old-reporting', '--url', url]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no consumer group "old-reporting"/);
});
