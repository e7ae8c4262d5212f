import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { consumerGroups, consumerId, WORKER_GROUP } from '../../src/platform/consumer-groups.ts';

test('a consumer id names the host, the process and the role, and differs from every other', () => {
  const prefix = `${hostname()}-${process.pid}-`;
  assert.match(consumerId(), new RegExp(`^${prefix}[0-9a-z]{1,6}$`));
  assert.match(consumerId('agents'), new RegExp(`^${prefix}agents-[0-9a-z]{1,6}$`));
  const ids = new Set(Array.from({ length: 50 }, () => consumerId('notify')));
  assert.equal(ids.size, 50);
});

test('the groups a configuration runs: the workers always, agents and notifications when on', () => {
  assert.deepEqual(consumerGroups(loadConfig({})), [
    WORKER_GROUP,
    'herald-agents',
    'herald-notifications',
  ]);
  assert.deepEqual(
    consumerGroups(loadConfig({ AGENTS_ENABLED: 'false', NOTIFICATIONS_ENABLED: 'false' })),
    [WORKER_GROUP],
  );
});
