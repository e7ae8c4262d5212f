import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keysCommand } from '../../../src/cli/commands/keys.ts';
import { postJson, startTestPlatform } from '../../helpers/platform.ts';
import { deadUrl, herald, runInProcess } from './run-cli.ts';

// Starting a Node process can take long on a loaded machine; these are not timing tests.
const CLI_TIMEOUT_MS = 90_000;

const ADMIN_KEY = 'test-admin-key-of-at-least-32-characters';

async function securedPlatform(t: Parameters<typeof startTestPlatform>[0]) {
  return startTestPlatform(t, { AUTH: 'required', ADMIN_API_KEY: ADMIN_KEY });
}

/** Runs `herald keys` in this process, capturing what it writes. */
const keys = (argv: string[], env: Record<string, string | undefined> = {}) =>
  runInProcess(keysCommand, argv, env);

test('herald keys create prints a working key once; list shows it without the secret; revoke stops it', async (t) => {
  const { url } = await securedPlatform(t);
  const admin = { HERALD_API_KEY: ADMIN_KEY, HERALD_URL: url };

  const created = await keys(['create', '--name', 'shop ingest', '--scope', 'events:write'], admin);
  assert.equal(created.code, 0, created.stderr);
  const [key = '', summary = ''] = created.stdout.split('\n');
  assert.match(key, /^hk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
  assert.match(summary, /^created key (\S+) "shop ingest" \(events:write\)$/);
  const id = /^created key (\S+)/.exec(summary)?.[1] ?? '';

  // The key does what its scope allows, and no more.
  const event = { event_type: 'click', user_id: 'u1' };
  const accepted = await postJson(`${url}/api/v1/events/analytics`, event, {
    authorization: `Bearer ${key}`,
  });
  assert.equal(accepted.status, 202);
  const listedWithIt = await keys(['list'], { HERALD_URL: url, HERALD_API_KEY: key });
  assert.equal(listedWithIt.code, 1, 'an events:write key cannot administer keys');
  assert.match(listedWithIt.stderr, /admin scope/);

  const list = await keys(['list'], admin);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${id}\\s+\\S{12}\\s+shop ingest\\s+events:write`));
  assert.match(list.stdout, /1 key\(s\)/);
  assert.ok(!list.stdout.includes(key), 'the key itself is never listed');

  const revoked = await keys(['revoke', id], admin);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`revoked key ${id}`));
  const refused = await postJson(`${url}/api/v1/events/analytics`, event, {
    authorization: `Bearer ${key}`,
  });
  assert.equal(refused.status, 401, 'a revoked key is refused');

  const active = await keys(['list', '--json'], admin);
  assert.deepEqual(JSON.parse(active.stdout).keys, []);
  const all = await keys(['list', '--all', '--json'], admin);
  const [listed] = JSON.parse(all.stdout).keys as { id: string; revoked_at: string | null }[];
  assert.equal(listed?.id, id);
  assert.notEqual(listed?.revoked_at, null);

  const again = await keys(['revoke', id], admin);
  assert.equal(again.code, 1, 'revoking a revoked key is a failure');
  assert.match(again.stderr, /no active key with id/);
});

test('herald keys create --json returns the key and its record; several scopes are kept', async (t) => {
  const { url } = await securedPlatform(t);
  const run = await keys(
    [
      'create',
      '--name',
      'reporting',
      '--scope',
      'analytics:read',
      '--scope',
      'metrics:read',
      '--json',
      '--url',
      url,
      '--api-key',
      ADMIN_KEY,
    ],
    {},
  );
  assert.equal(run.code, 0, run.stderr);
  const body = JSON.parse(run.stdout);
  assert.deepEqual(body.scopes, ['analytics:read', 'metrics:read']);
  assert.equal(body.name, 'reporting');
  assert.match(body.key, /^hk_/);
});

test('herald keys without an admin key exits 1 and says what is missing', async (t) => {
  const { url } = await securedPlatform(t);
  const run = await herald(['keys', 'list', '--url', url], {}, CLI_TIMEOUT_MS);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /401/);
  assert.match(run.stderr, /needs a key with the admin scope/);
  const down = await herald(['keys', 'list', '--url', await deadUrl()], {}, CLI_TIMEOUT_MS);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach/);
});

test('herald keys rejects bad usage with exit 2 and documents itself in --help', async () => {
  for (const [args, message] of [
    [[], /missing action: create, list or revoke/],
    [['rotate'], /unknown action "rotate"/],
    [['create', '--scope', 'admin'], /needs --name/],
    [['create', '--name', 'x'], /at least one --scope/],
    [['create', '--name', 'x', '--scope', 'root'], /--scope: unknown root/],
    [['revoke'], /exactly one key id/],
    [['list', '--colour'], /Unknown option '--colour'/],
  ] as const) {
    const run = await keys([...args]);
    assert.equal(run.code, 2, `keys ${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.match(run.stderr, /Usage:/, 'bad usage shows the help');
  }
  // The real command line: exit status, help, and the command in the top-level help.
  const bad = await herald(['keys', 'create', '--name', 'x'], {}, CLI_TIMEOUT_MS);
  assert.equal(bad.code, 2);
  const help = await herald(['keys', '--help'], {}, CLI_TIMEOUT_MS);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /herald keys create --name NAME --scope SCOPE/);
  assert.match(help.stdout, /events:write \| analytics:read \| metrics:read \| admin/);
  const top = await herald(['--help'], {}, CLI_TIMEOUT_MS);
  assert.match(top.stdout, /keys\s+API keys: create \(shown once\), list, revoke/);
});
