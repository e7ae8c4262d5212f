import assert from 'node:assert/strict';
import { test } from 'node:test';
import { usersCommand } from '../../../src/cli/commands/users.ts';
import { postJson, startTestPlatform } from '../../helpers/platform.ts';
import { herald, runInProcess } from './run-cli.ts';

// Starting a Node process can take long on a loaded machine; these are not timing tests.
const CLI_TIMEOUT_MS = 90_000;

const ADMIN_KEY = 'test-admin-key-of-at-least-32-characters';

/** Runs `herald users` in this process (no process start per call), capturing its output. */
const users = (argv: string[], env: Record<string, string | undefined> = {}) =>
  runInProcess(usersCommand, argv, env);

const login = (url: string, username: string, password: string) =>
  postJson(`${url}/users/login`, { username, password });

test('herald users creates, lists, shows, promotes and deletes users with an admin key', async (t) => {
  const { url } = await startTestPlatform(t, { ADMIN_API_KEY: ADMIN_KEY });
  const admin = { HERALD_API_KEY: ADMIN_KEY, HERALD_URL: url };

  // A chosen password (from the environment, never the command line) is not printed.
  const ann = await users(['create', '--username', 'ann', '--email', 'ann@example.com'], {
    ...admin,
    HERALD_USER_PASSWORD: 'correct horse battery',
  });
  assert.equal(ann.code, 0, ann.stderr);
  assert.match(ann.stdout, /^created user (\S+) "ann" \(user\)\n$/);
  const annId = /created user (\S+)/.exec(ann.stdout)?.[1] ?? '';
  assert.equal((await login(url, 'ann', 'correct horse battery')).status, 200);

  // Without one, a generated password is printed once and works.
  const bob = await users(
    ['create', '--username', 'bob', '--email', 'bob@example.com', '--role', 'guest', '--json'],
    admin,
  );
  assert.equal(bob.code, 0, bob.stderr);
  const created = JSON.parse(bob.stdout) as { id: string; role: string; password: string };
  assert.equal(created.role, 'guest');
  assert.ok(created.password.length >= 20, 'a strong generated password');
  assert.equal((await login(url, 'bob', created.password)).status, 200);

  const list = await users(['list'], admin);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${annId}\\s+ann\\s+ann@example.com\\s+user`));
  assert.match(list.stdout, /bob\s+bob@example.com\s+guest/);

  const promoted = await users(['set-role', annId, 'admin'], admin);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(promoted.stdout, /"ann" is now admin/);
  const shown = await users(['show', annId], admin);
  assert.equal(JSON.parse(shown.stdout).role, 'admin');

  const deleted = await users(['delete', created.id], admin);
  assert.equal(deleted.code, 0, deleted.stderr);
  const gone = await users(['show', created.id], admin);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /404/);

  const taken = await users(['create', '--username', 'ann', '--email', 'ann2@example.com'], admin);
  assert.equal(taken.code, 1, 'a taken username is refused');
  assert.match(taken.stderr, /409/);
});

test('herald users without an admin key exits 1 and names what is missing', async (t) => {
  const { url } = await startTestPlatform(t, { ADMIN_API_KEY: ADMIN_KEY });
  const run = await herald(['users', 'list', '--url', url], {}, CLI_TIMEOUT_MS);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /401/);
  assert.match(run.stderr, /needs an API key with the admin scope/);
});

test('herald users rejects bad usage with exit 2 and documents itself in --help', async () => {
  for (const [args, message] of [
    [[], /missing action: list, show, create, set-role or delete/],
    [['promote', 'x'], /unknown action "promote"/],
    [['create', '--email', 'a@b.c'], /needs --username/],
    [['create', '--username', 'a'], /needs --email/],
    [['create', '--username', 'a', '--email', 'a@b.c', '--role', 'root'], /--role: must be one/],
    [['set-role', 'x'], /takes a user id and a role/],
    [['set-role', 'x', 'king'], /--role: must be one of admin, user, guest/],
    [['show'], /exactly one user id/],
    [['list', '--limit', 'lots'], /--limit: expected a whole number/],
  ] as const) {
    const run = await users([...args]);
    assert.equal(run.code, 2, `users ${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
  const help = await herald(['users', '--help'], {}, CLI_TIMEOUT_MS);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /herald users create --username U --email E/);
  assert.match(help.stdout, /HERALD_USER_PASSWORD/);
});
