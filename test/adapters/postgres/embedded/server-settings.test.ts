import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accessArguments,
  serverSettings,
  settingsFile,
} from '../../../../src/adapters/postgres/embedded/server-settings.ts';

test('durable by default: fsync, synchronous_commit and full-page writes on; memory:// turns them off', () => {
  const durable = serverSettings({ poolSize: 10, durable: true });
  assert.equal(durable.fsync, 'on');
  assert.equal(durable.synchronous_commit, 'on');
  assert.equal(durable.full_page_writes, 'on');
  const memory = serverSettings({ poolSize: 10, durable: false });
  assert.equal(memory.fsync, 'off');
  assert.equal(memory.synchronous_commit, 'off');
});

test('max_connections leaves room for two pools of the configured size and the extra connections', () => {
  assert.equal(serverSettings({ poolSize: 10, durable: true }).max_connections, '100');
  assert.equal(serverSettings({ poolSize: 200, durable: true }).max_connections, '420');
});

test('herald.conf lists every setting, one a line', () => {
  const text = settingsFile({ fsync: 'on', timezone: "'UTC'" });
  assert.match(text, /^fsync = on$/m);
  assert.match(text, /^timezone = 'UTC'$/m);
});

test('the server listens on no TCP address, only on a private unix socket in the directory given', () => {
  const args = accessArguments('/data/my, "dir"', 5432);
  assert.ok(args.includes('listen_addresses='));
  assert.ok(args.includes('unix_socket_permissions=0700'));
  // The directory list is split at commas: a quoted element keeps it whole.
  assert.ok(args.includes('unix_socket_directories="/data/my, ""dir"""'));
});
